"""Run targets, each in its own worker process, and collect what they find.

Rules:
- A run is bounded by time (`seconds`: libFuzzer's -max_total_time) or by count (`runs`,
  with a fixed `seed`: the same inputs on every machine, for the suite).
- Each run starts from a fresh temporary corpus holding the target's seeds, with
  PYTHONHASHSEED fixed and address-space randomisation off (`setarch -R`: with it on,
  two runs of one seed measurably take different paths), so a seeded run is the same
  run every time.
- `executions` is libFuzzer's count; `seconds` is the fuzzing time alone, from the first
  input to the end of the worker (start-up and instrumentation left out).
- A finding keeps its input and what was seen (the exception and its traceback, or
  libFuzzer's kind: timeout, crash, oom, slow-unit); `save` keeps it as a regression
  input, tests/fuzz_regressions/<target>/<sha256>.bin.
"""

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .targets import TARGETS

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = ROOT / "tests" / "fuzz_regressions"
# A single input slower than this is a hang (libFuzzer writes it as timeout-...).
TIMEOUT_S = 10
_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")


@dataclass(frozen=True, slots=True)
class Finding:
    data: bytes
    kind: str  # "exception", or libFuzzer's: "timeout", "crash", "oom", "slow-unit"
    detail: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(slots=True)
class Result:
    target: str
    executions: int
    seconds: float
    findings: list[Finding] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.executions / self.seconds if self.seconds > 0 else 0.0


def _options(seconds: float | None, runs: int | None, seed: int | None) -> list[str]:
    options = [f"-timeout={TIMEOUT_S}", "-print_final_stats=1"]
    if seconds is not None:
        options.append(f"-max_total_time={max(1, round(seconds))}")
    if runs is not None:
        options.append(f"-runs={runs}")
    if seed is not None:
        options.append(f"-seed={seed}")
    return options


def fuzz(name: str, seconds: float | None = None, runs: int | None = None, seed: int | None = None) -> Result:
    """Fuzz one target until `seconds` pass or `runs` inputs ran; at least one must be given."""
    assert seconds is not None or runs is not None, "bound the run by time or by count"
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
        corpus, findings = Path(tmp, "corpus"), Path(tmp, "findings")
        corpus.mkdir()
        findings.mkdir()
        for i, data in enumerate(TARGETS[name].seeds()):
            (corpus / f"seed-{i}").write_bytes(data)
        command = ["setarch", "-R", sys.executable, "-m", "simulations.fuzz.worker", name, str(findings)]
        command += [*_options(seconds, runs, seed), f"-artifact_prefix={findings}/", str(corpus)]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        ended = time.monotonic()
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        started = next((line["started"] for line in lines if "started" in line), ended)
        executed = _EXECUTED.search(done.stderr)
        result = Result(name, int(executed[1]) if executed else 0, ended - started)
        details = {line["finding"]: f"{line['error']}\n{line['traceback']}" for line in lines if "finding" in line}
        tail = "\n".join(done.stderr.splitlines()[-30:])  # what libFuzzer said of its own findings
        for path in sorted(findings.iterdir()):
            kind, _, _ = path.name.rpartition("-")
            data = path.read_bytes()
            result.findings.append(Finding(data, kind, details.get(hashlib.sha256(data).hexdigest(), tail)))
        if executed is None and not result.findings:
            raise RuntimeError(f"fuzz worker {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        return result


def fuzz_all(
    names: list[str], jobs: int = 1, seconds: float | None = None, runs: int | None = None, seed: int | None = None
) -> list[Result]:
    """`fuzz` each target, `jobs` workers at a time; results in the order of `names`."""
    with ThreadPoolExecutor(jobs) as pool:
        return list(pool.map(lambda name: fuzz(name, seconds, runs, seed), names))


def save(target: str, finding: Finding) -> Path:
    """Keep a finding's input as a regression input of `target`; its path."""
    path = REGRESSIONS / target / f"{finding.sha256}.bin"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(finding.data)
    return path
