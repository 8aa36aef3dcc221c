from pathlib import Path

import pytest

from simulations.scenario import ScenarioError, load

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "simulations" / "scenarios").glob("*.toml"))


def test_the_shipped_scenarios_include_the_tabletop_golden_hour_and_split_cases():
    assert {p.stem for p in SCENARIOS} >= {"manhunt", "crowd", "cbrne", "golden_hour", "split", "short"}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_every_shipped_scenario_loads_with_exercise_traffic_and_faults(path):
    scenario = load(path)
    assert scenario.injects and scenario.faults and scenario.exercise
    assert all(0 <= i.at_s <= scenario.duration_s for i in scenario.injects)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('nodes = ["BE", "BE"]', "distinct"),
        ('[[faults]]\nat_s = 1\naction = "explode"', "fault action"),
        ('[[injects]]\nat_s = 1\nfrom = "BE"\nkind = "comment"\nincident = "nope"', "before it is opened"),
        ('[[injects]]\nat_s = 1\nfrom = "ZZ"\nkind = "open"', "not a node"),
        ('nodes = ["BE"]\n[[faults]]\naction = "isolate"\nnodes = ["FR"]', "not a node of this scenario"),
        ("duration_s = [", "cannot read scenario"),
    ],
)
def test_a_bad_scenario_is_refused_naming_the_problem(tmp_path, text, complaint):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match=complaint):
        load(path)
