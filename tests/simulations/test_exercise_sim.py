"""Each shipped MSEL, played end to end under `qroc sim exercise` by simulated players on
real node processes (three nodes, an hour in six seconds), with its report."""

import json
import subprocess
import sys

import pytest


@pytest.mark.parametrize("msel", ["manhunt", "crowd", "cbrne"])
def test_a_shipped_msel_runs_end_to_end_under_sim_and_produces_its_report(tmp_path, msel):
    out = tmp_path / msel
    result = subprocess.run(
        [sys.executable, "-m", "node", "sim", "exercise", msel, "--out", str(out), "--nodes", "3", "--speed", "600"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert summary["injects_released"] == summary["injects_total"] == len(report["injects"])
    present = {oc["country"] for oc in summary["per_oc"]}
    assert len(present) == 3
    for oc in summary["per_oc"]:
        assert oc["delivered"] == oc["targeted"] > 0 and oc["acknowledged"] == oc["targeted"]
    assert summary["unacknowledged"] == 0
    assert [f["peer_country"] for f in report["link_failures"]] == summary["link_cut"]["between"][1:]
    page = (out / "report.html").read_text()
    assert "data:image/png;base64," in page and report["exercise"]["name"] in page
