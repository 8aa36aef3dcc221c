"""Scenario files (TOML): nodes, a fault timeline, a workload of injects, expectations.

name = "…"                      exercise = "…"   (marker on every inject; optional)
duration_s = 120                settle_s = 60    (time allowed to converge after the end)
nodes = ["BE", "FR", …]         (countries of the OCs; default: the 11 of the federation)

[[faults]]  at_s, action, and per action:
    isolate / restore   nodes = ["BE"]               every link of these nodes
    partition           groups = [["BE", "FR"], …]   nodes in no group are alone
    heal                                            every link back
    shape               nodes, delay_ms, jitter_ms, rate_kbps (0 = no cap)
    flap                nodes, period_s, until_s     links go down and up every period
[[injects]] at_s, from, kind, and optionally every_s + until_s to repeat:
    open     ref, title, category, severity, description, location {lat, lon, place}, tags
    update   incident (a ref), fields = {…}   (any of the open fields, status)
    comment  incident, text                  ("{n}" in text is the repetition number)
    media    incident, name, mime, size_kb
[expect]    converge_within_s, latency_p99_ms_max, incidents (how many), delivery_ratio_min,
            catch_up_s_max: after every cut (isolate or a flap's down, until its links are
            back), everything the cut node missed is on it and everything it wrote while cut
            is on every other node within this many seconds of the links' return
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .federation import OCS

ACTIONS = {"isolate", "restore", "partition", "heal", "shape", "flap"}
KINDS = {"open", "update", "comment", "media"}


class ScenarioError(Exception):
    """The scenario file is unreadable or names something that does not exist."""


@dataclass
class Fault:
    at_s: float
    action: str
    nodes: list[int] = field(default_factory=list)
    groups: list[list[int]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Inject:
    at_s: float
    source: int
    kind: str
    options: dict[str, Any]
    n: int = 0  # repetition number


@dataclass
class Scenario:
    name: str
    countries: list[str]
    duration_s: float
    settle_s: float
    exercise: str | None
    faults: list[Fault]
    injects: list[Inject]
    expect: dict[str, float]
    path: Path


def load(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from None
    known = {oc[1] for oc in OCS}
    countries = data.get("nodes", [oc[1] for oc in OCS])
    if not isinstance(countries, list) or not countries or len(set(countries)) != len(countries):
        raise ScenarioError("'nodes' must be a list of distinct country codes")
    for c in countries:
        if c not in known:
            raise ScenarioError(f"node {c!r} is not one of the federation's OCs {sorted(known)}")
    index = {c: i for i, c in enumerate(countries)}

    def nodes_of(item: dict[str, Any], key: str = "nodes") -> list[int]:
        try:
            return [index[c] for c in item.get(key, [])]
        except KeyError as exc:
            raise ScenarioError(f"{exc.args[0]!r} is not a node of this scenario") from None

    duration = float(data.get("duration_s", 60))
    faults = []
    for item in data.get("faults", []):
        if item.get("action") not in ACTIONS:
            raise ScenarioError(f"fault action {item.get('action')!r} is not one of {sorted(ACTIONS)}")
        groups = [[index[c] for c in g] for g in item.get("groups", []) if all(c in index for c in g)]
        if item["action"] == "partition" and len(groups) != len(item.get("groups", [])):
            raise ScenarioError("a partition group names a node that is not in this scenario")
        options = {k: v for k, v in item.items() if k not in ("at_s", "action", "nodes", "groups")}
        faults.append(Fault(float(item.get("at_s", 0)), item["action"], nodes_of(item), groups, options))
    injects = []
    refs: set[str] = set()
    for item in sorted(data.get("injects", []), key=lambda i: i.get("at_s", 0)):
        kind = item.get("kind")
        if kind not in KINDS:
            raise ScenarioError(f"inject kind {kind!r} is not one of {sorted(KINDS)}")
        if item.get("from") not in index:
            raise ScenarioError(f"inject 'from' {item.get('from')!r} is not a node of this scenario")
        if kind == "open":
            refs.add(item.get("ref", ""))
        elif item.get("incident") not in refs:
            raise ScenarioError(f"inject refers to incident {item.get('incident')!r} before it is opened")
        options = {k: v for k, v in item.items() if k not in ("at_s", "from", "kind", "every_s", "until_s")}
        start, every = float(item.get("at_s", 0)), item.get("every_s")
        until = float(item.get("until_s", start))
        times = [start] if not every else [start + k * float(every) for k in range(int((until - start) // every) + 1)]
        injects += [Inject(t, index[item["from"]], kind, options, n) for n, t in enumerate(times)]
    injects.sort(key=lambda i: i.at_s)
    return Scenario(
        name=str(data.get("name", path.stem)),
        countries=countries,
        duration_s=duration,
        settle_s=float(data.get("settle_s", 60)),
        exercise=data.get("exercise"),
        faults=sorted(faults, key=lambda f: f.at_s),
        injects=injects,
        expect={k: float(v) for k, v in data.get("expect", {}).items()},
        path=path,
    )
