"""`qroc exercise …` against a real node process: load, start, publish, skip, status,
end and report; a refused action is one line and a non-zero exit."""

import json
import time
from pathlib import Path

from simulations.federation import NodeProcess

from .federation import federation
from .test_process import qroc


def wait_for_api(datadir) -> None:
    deadline = time.monotonic() + 30
    while qroc("exercise", "msels", str(datadir.path)).returncode != 0:
        assert time.monotonic() < deadline, "the node's API did not come up"
        time.sleep(0.2)


def test_an_exercise_is_conducted_and_reported_from_the_command_line(tmp_path: Path):
    (datadir,) = federation(tmp_path, 1)
    node = NodeProcess(datadir, tmp_path / "node.log")
    node.start()
    try:
        wait_for_api(datadir)
        data = str(datadir.path)
        assert qroc("exercise", "msels", data).stdout.split() == ["cbrne", "crowd", "manhunt"]
        loaded = qroc("exercise", "load", data, "crowd")
        assert loaded.returncode == 0, loaded.stderr
        assert loaded.stdout.startswith("run 1: crowd-liege") and "ready" in loaded.stdout
        refused = qroc("exercise", "pause", data, "1")
        assert refused.returncode == 1 and refused.stderr.strip() == (
            "qroc: error: cannot pause: the exercise is ready (conflict, HTTP 409)"
        )
        assert qroc("exercise", "start", data, "1").returncode == 0
        assert qroc("exercise", "skip", data, "1", "C14").returncode == 0  # and C15, C20, C21 with it
        assert qroc("exercise", "publish", data, "1", "C05").returncode == 0
        deadline = time.monotonic() + 30
        while True:
            status = qroc("exercise", "status", data, "1").stdout
            states = {line.split()[0]: line.split()[2] for line in status.splitlines()[2:]}
            if states["C05"] == "released":
                break
            assert time.monotonic() < deadline, status
            time.sleep(0.2)
        assert {states[i] for i in ("C14", "C15", "C20", "C21")} == {"skipped"}
        assert qroc("exercise", "end", data, "1").returncode == 0
        out = tmp_path / "report"
        written = qroc("exercise", "report", data, "1", "--out", str(out))
        assert written.returncode == 0, written.stderr
        report = json.loads((out / "report.json").read_text())
        assert {i["id"]: i["state"] for i in report["injects"]}["C14"] == "skipped"
        assert (out / "report.html").read_text().startswith("<!DOCTYPE html>")
    finally:
        node.stop()
