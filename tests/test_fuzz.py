"""The fuzz targets (simulations/fuzz/) in the suite: every input the fuzzer ever found is
replayed, and every target is fuzzed briefly with a fixed seed and runs count (the same
inputs on every run, so it cannot flake); neither may meet anything but the decoder's
documented error family. `python3 -m simulations.fuzz --all` fuzzes for longer."""

from pathlib import Path

import pytest

from simulations.fuzz.run import REGRESSIONS, fuzz_all
from simulations.fuzz.targets import TARGETS

RUNS = 10_000


def _saved() -> list[object]:
    params = []
    for path in sorted(REGRESSIONS.glob("*/*.bin")):
        params.append(pytest.param(path, id=f"{path.parent.name}/{path.name[:12]}"))
    return params


@pytest.mark.parametrize("path", _saved())
def test_a_saved_input_meets_only_the_documented_errors(path: Path) -> None:
    target = TARGETS[path.parent.name]
    try:
        target.call(path.read_bytes())
    except target.expected:
        pass
    except Exception as exc:  # reported short: a RecursionError's traceback is 1000 frames
        raise AssertionError(f"{path.parent.name} raised {type(exc).__name__}: {exc}") from None


def test_a_seeded_run_of_every_target_finds_nothing() -> None:
    results = fuzz_all(list(TARGETS), jobs=2, runs=RUNS, seed=1)
    assert all(r.executions >= RUNS for r in results), [(r.target, r.executions) for r in results]
    found = [f"{r.target}: {f.kind}\n{f.detail}" for r in results for f in r.findings]
    assert not found, "\n\n".join(found)
