"""The short scenario on real node processes, through the command line."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulations.netns import why_unavailable

SHORT = Path(__file__).resolve().parents[2] / "simulations" / "scenarios" / "short.toml"
CATCH_UP = SHORT.with_name("catch_up_short.toml")


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


def netns_names() -> set[str]:
    """Our namespaces now: another run (a benchmark, a scenario) may hold some of its own."""
    listing = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in listing.splitlines() if line.startswith("qroc-")}


@pytest.mark.skipif(why_unavailable() is not None, reason=str(why_unavailable()))
def test_after_a_20_s_kernel_level_cut_the_cut_node_and_the_others_catch_up_within_the_bound(tmp_path):
    namespaces_before = netns_names()
    result = sim_run(CATCH_UP, tmp_path / "catch_up", "--netns")
    report_path = tmp_path / "catch_up" / "report.json"
    assert report_path.exists(), result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(report_path.read_text())
    (cut,) = report["catch_up"]
    figure = f"caught up {cut['catch_up_s']} s after a {cut['cut_s']:.0f} s cut (in {cut['in_s']}, out {cut['out_s']})"
    print(figure)
    assert result.returncode == 0 and report["checks"]["expect_catch_up_s_max"], figure
    assert cut["deliveries_in"] > 0 and cut["deliveries_out"] > 0  # both ways had something to catch up
    assert report["delivery_ratio"] == 1.0 and report["bytes_per_link"]["CZ->BE"] > 0
    # The cut held: what the others wrote while BE was cut reached it only after (>3 s late).
    assert report["latency_ms"]["BE"]["p99"] > 3000
    assert netns_names() <= namespaces_before  # none of the run's left behind


def test_a_deliberately_broken_expectation_makes_the_run_fail(tmp_path):
    broken = tmp_path / "broken.toml"  # the smallest run there is, expecting what cannot be
    broken.write_text(
        'name = "Broken"\nexercise = "Test drill"\nnodes = ["BE", "CZ"]\nduration_s = 2\nsettle_s = 10\n'
        '[[injects]]\nat_s = 0.5\nfrom = "BE"\nkind = "open"\nref = "x"\ntitle = "One incident"\n'
        'category = "other"\nseverity = "low"\n[[faults]]\nat_s = 1\naction = "isolate"\nnodes = ["CZ"]\n'
        "[expect]\nincidents = 99\n"
    )
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
