"""Coverage-guided fuzzing (atheris) of every decoder that reads network or file input.

    python3 -m simulations.fuzz --all [--seconds N] [--jobs J]
    python3 -m simulations.fuzz --target NAME [--target NAME ...] [--seconds N]

Rules:
- A target (targets.py) is a callable taking the bytes a peer, a client or a file could
  hand the decoder, and the decoder's documented error family. Given any bytes, the
  decoder returns a value or raises that family; anything else is a finding: another
  exception, a hang (libFuzzer's -timeout), a native crash or running out of memory.
- Each target fuzzes in a subprocess of its own (worker.py: atheris takes over the
  process), instrumented for coverage, from a seed corpus that seeds.py and documents.py
  make at run time with the project's own encoders.
- A finding's input is saved as tests/fuzz_regressions/<target>/<sha256>.bin;
  tests/test_fuzz.py replays every saved input and runs each target briefly with a fixed
  seed and runs count, so the suite stays deterministic.
"""
