"""The short scenario on real node processes, through the command line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulations.netns import why_unavailable

SHORT = Path(__file__).resolve().parents[2] / "simulations" / "scenarios" / "short.toml"


def sim_run(scenario: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "node", "sim", "run", str(scenario), "--out", str(out), *options],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_short_scenario_passes_its_checks_and_writes_its_report(tmp_path):
    result = sim_run(SHORT, tmp_path / "short")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    report = json.loads((tmp_path / "short" / "report.json").read_text())
    assert report["ok"] and all(report["checks"].values())
    assert report["nodes"] == ["BE", "CZ", "DE", "FR", "NL"]
    assert report["acknowledged"]["open"] == 1 and report["acknowledged"]["media"] == 1
    assert report["acknowledged"]["comment"] >= 9 and report["delivery_ratio"] == 1.0
    assert [f["action"] for f in report["faults"]] == ["isolate", "restore", "final heal"]
    markdown = (tmp_path / "short" / "report.md").read_text()
    assert "PASS" in markdown and "latency.png" in markdown
    for plot in ("latency.png", "timeline.png", "bytes_per_link.png"):
        assert (tmp_path / "short" / plot).stat().st_size > 1000


def netns_count() -> int:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.count("qroc-")


@pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))
def test_in_network_namespaces_the_kernel_cuts_the_link_and_the_short_scenario_passes(tmp_path):
    namespaces_before = netns_count()
    result = sim_run(SHORT, tmp_path / "short", "--netns")
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    report = json.loads((tmp_path / "short" / "report.json").read_text())
    assert report["ok"] and report["delivery_ratio"] == 1.0
    # BE was cut for 10 s while the others wrote: what they wrote reached it only after.
    assert report["latency_ms"]["BE"]["p99"] > 3000
    assert report["bytes_per_link"]["CZ->BE"] > 0
    assert netns_count() == namespaces_before  # all removed


def test_a_deliberately_broken_expectation_makes_the_run_fail(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(SHORT.read_text() + "\n[expect]\nincidents = 99\n")
    result = sim_run(broken, tmp_path / "broken")
    assert result.returncode == 1
    assert "failed: expect_incidents" in result.stdout
    report = json.loads((tmp_path / "broken" / "report.json").read_text())
    assert not report["ok"] and report["checks"]["every_acknowledged_entry_on_every_node"]


def test_a_scenario_naming_an_unknown_node_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('nodes = ["BE", "XX"]\n')
    result = sim_run(bad, tmp_path / "bad")
    assert result.returncode == 1 and "'XX' is not one of the federation's OCs" in result.stderr
    assert "Traceback" not in result.stderr
