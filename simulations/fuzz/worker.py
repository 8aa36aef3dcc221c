"""One target under atheris, in a process of its own (run.py starts it):

    python3 -m simulations.fuzz.worker TARGET FINDINGS_DIR [libFuzzer options] CORPUS_DIR

Rules:
- The project's decoders and the pure-Python parsers they call (tomllib, multiaddr) are
  instrumented for coverage as they are imported, with atheris's str hook on (it learns
  the prefixes the decoders test for). Not its regex hook: atheris 3.0's pattern proxy
  refuses `pattern.match(text, pos)`, which tomllib calls, so every TOML input would be
  a false finding.
- An input the decoder answers with its documented family is a pass. Any other exception
  is a finding: its input is written to FINDINGS_DIR as exception-<sha256> (once per
  exception type and raising line) and fuzzing goes on, so one run reports every distinct
  bug; a JSON line on stdout describes it. Hangs, native crashes and memory blow-ups stop
  libFuzzer, which writes its own timeout-/crash-/oom- file there (-artifact_prefix).
- The first input run prints {"started": time.monotonic()} so that run.py can time the
  fuzzing apart from the start-up.
"""

import hashlib
import json
import sys
import time
import traceback
from pathlib import Path

import atheris

INSTRUMENTED = ["protocol", "bridges", "exercise", "node", "tomllib", "multiaddr"]


def main() -> None:
    name, findings = sys.argv[1], Path(sys.argv[2])
    atheris.enabled_hooks.add("str")
    with atheris.instrument_imports(include=INSTRUMENTED):
        from .targets import TARGETS
    target = TARGETS[name]
    seen: set[tuple[str, str, int]] = set()
    started = False

    def one(data: bytes) -> None:
        nonlocal started
        if not started:
            started = True
            print(json.dumps({"started": time.monotonic()}), flush=True)
        try:
            target.call(data)
        except target.expected:
            pass
        except Exception as exc:
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            signature = (type(exc).__name__, frame.filename, frame.lineno or 0)
            if signature in seen:
                return
            seen.add(signature)
            digest = hashlib.sha256(data).hexdigest()
            (findings / f"exception-{digest}").write_bytes(data)
            text = "".join(traceback.format_exception(exc)[-8:])
            print(
                json.dumps({"finding": digest, "error": f"{signature[0]}: {exc}"[:300], "traceback": text}), flush=True
            )

    atheris.Setup([sys.argv[0], *sys.argv[3:]], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
