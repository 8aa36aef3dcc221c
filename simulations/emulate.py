"""`qroc sim run SCENARIO --out DIR`: real node processes under a scripted fault timeline.

Every link between two nodes runs through the link emulator (no root needed), or with
--netns through the kernel: each node in its own network namespace (root needed). The
runner starts the nodes, plays the faults and the injects (through each node's HTTP
API, as an OC's tools would), heals everything at the end, waits for convergence, checks
the nothing-lost rule and writes report.json and report.md with plots into DIR.
"""

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
from tqdm import tqdm

from .federation import Cluster
from .links import LinkControl, Shape
from .netns import Namespaces
from .scenario import Fault, Inject, Scenario, ScenarioError


@dataclass
class Run:
    scenario: Scenario
    cluster: Cluster
    links: LinkControl  # the proxies, or the kernel in --netns mode
    rng: random.Random
    t0: float = 0.0  # trio clock at the start of the timeline
    wall0_ms: float = 0.0
    refs: dict[str, str] = field(default_factory=dict)
    acked: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    media: list[str] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)  # what happened, when (ms)
    heals_ms: list[float] = field(default_factory=list)
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    def now_ms(self) -> float:
        return time.time() * 1000 - self.wall0_ms

    def names(self, nodes: list[int]) -> list[str]:
        return [self.scenario.countries[n] for n in nodes]


def apply_fault(run: Run, fault: Fault) -> None:
    links = run.links
    action = fault.action
    if action == "isolate":
        for node in fault.nodes:
            links.set_node(node, up=False)
    elif action == "restore":
        for node in fault.nodes:
            links.set_node(node, up=True)
    elif action == "partition":
        links.partition([set(g) for g in fault.groups])
    elif action == "heal":
        links.heal()
    elif action == "shape":
        rate = float(fault.options.get("rate_kbps", 0)) * 1000 / 8
        shape = Shape(float(fault.options.get("delay_ms", 0)), float(fault.options.get("jitter_ms", 0)), rate or None)
        for node in fault.nodes:
            links.shape_node(node, shape)
    at = run.now_ms()
    run.faults.append({"at_ms": at, "action": action, "nodes": run.names(fault.nodes)})
    if action in ("restore", "heal"):
        run.heals_ms.append(at)


async def flap(run: Run, fault: Fault) -> None:
    period = float(fault.options.get("period_s", 2))
    until = run.t0 + float(fault.options.get("until_s", fault.at_s + 10))
    up = False
    while trio.current_time() < until:
        for node in fault.nodes:
            run.links.set_node(node, up)
        run.faults.append(
            {
                "at_ms": run.now_ms(),
                "action": "up" if up else "down",
                "nodes": run.names(fault.nodes),
            }
        )
        up = not up
        await trio.sleep(period)
    for node in fault.nodes:
        run.links.set_node(node, True)
    if up:  # the last change was down: this is when the links came back
        run.faults.append({"at_ms": run.now_ms(), "action": "up", "nodes": run.names(fault.nodes)})
    run.heals_ms.append(run.now_ms())


async def play_fault(run: Run, fault: Fault) -> None:
    await trio.sleep_until(run.t0 + fault.at_s)
    if fault.action == "flap":
        await flap(run, fault)
    else:
        apply_fault(run, fault)


def _fields(options: dict[str, Any]) -> dict[str, Any]:
    keys = ("title", "category", "severity", "status", "description", "location", "tags")
    return {k: options[k] for k in keys if k in options}


async def play_inject(run: Run, inject: Inject) -> None:
    await trio.sleep_until(run.t0 + inject.at_s)
    api = run.clients[inject.source]
    o = inject.options
    incident = run.refs.get(o.get("incident", ""))
    try:
        if inject.kind == "open":
            body = {**_fields(o), **({"exercise": run.scenario.exercise} if run.scenario.exercise else {})}
            response = await api.post("/v1/incidents", json=body)
            entry = response.json().get("id") if response.status_code == 201 else None
            if entry:
                run.refs[o.get("ref", entry)] = entry
        elif incident is None:
            response, entry = None, None
        elif inject.kind == "update":
            response = await api.patch(f"/v1/incidents/{incident}", json=_fields(o.get("fields", {})))
            entry = response.headers.get("x-entry-id")
        elif inject.kind == "comment":
            text = str(o.get("text", "comment {n}")).format(n=inject.n)
            response = await api.post(f"/v1/incidents/{incident}/comments", json={"text": text})
            entry = response.json().get("id") if response.status_code == 201 else None
        else:
            data = run.rng.randbytes(int(float(o.get("size_kb", 100)) * 1024))
            response = await api.post(
                f"/v1/incidents/{incident}/media",
                params={"name": o.get("name", "file.bin")},
                content=data,
                headers={"content-type": o.get("mime", "application/octet-stream")},
            )
            entry = response.json().get("id") if response.status_code == 201 else None
            if entry:
                run.media.append(entry)
    except httpx.HTTPError as exc:
        response, entry = None, None
        run.refused.append({"at_s": inject.at_s, "kind": inject.kind, "error": repr(exc)[:200]})
    if entry:
        run.acked.append({"id": entry, "kind": inject.kind, "source": inject.source, "at_ms": run.now_ms()})
    elif response is not None:
        run.refused.append({"at_s": inject.at_s, "kind": inject.kind, "status": response.status_code})
    elif incident is None and inject.kind != "open":
        run.refused.append({"at_s": inject.at_s, "kind": inject.kind, "error": "incident not opened"})


async def read(api: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    """GET, once more if the node closed an idle kept-alive connection just as it was reused."""
    try:
        return await api.get(path, params=params)
    except httpx.RemoteProtocolError:
        return await api.get(path, params=params)


async def incident_states(run: Run) -> list[Any]:
    return [(await read(api, "/v1/incidents", limit=500)).json() for api in run.clients]


async def media_complete(run: Run) -> bool:
    for api in run.clients:
        for media_id in run.media:
            status = await read(api, f"/v1/media/{media_id}/status")
            if status.status_code != 200 or not status.json()["complete"]:
                return False
    return True


async def converge(run: Run) -> float | None:
    """Seconds after the final heal until every node holds every acknowledged entry and
    media item and all serve the same incidents; None if not within settle_s."""
    healed = trio.current_time()
    wanted = {bytes.fromhex(a["id"]) for a in run.acked}
    while trio.current_time() - healed < run.scenario.settle_s:
        if all(wanted <= set(s) for s in run.cluster.stored()) and await media_complete(run):
            states = await incident_states(run)
            if all(s == states[0] for s in states):
                return trio.current_time() - healed
        await trio.sleep(0.5)
    return None


async def execute(
    scenario: Scenario, out: Path, seed: int = 1, progress: bool = True, netns: bool = False
) -> dict[str, Any]:
    """Run `scenario`; with `netns`, each node in its own network namespace and the faults
    made by the kernel (simulations/netns.py) instead of the proxies."""
    if not netns:
        return await _execute(scenario, out, seed, progress, None)
    n = len(scenario.countries)
    if any(f.action == "shape" and (f.options.get("delay_ms") or f.options.get("jitter_ms")) for f in scenario.faults):
        raise ScenarioError("delay and jitter need the link emulator: network namespaces here have no netem")
    with Namespaces(n) as namespaces:
        return await _execute(scenario, out, seed, progress, namespaces)


async def _execute(
    scenario: Scenario, out: Path, seed: int, progress: bool, namespaces: Namespaces | None
) -> dict[str, Any]:
    from .report import analyse, write_report

    n = len(scenario.countries)
    emulated = None if namespaces is None else set()  # in namespaces the kernel is the emulator
    cluster = Cluster(out / "nodes", n, seed=seed, countries=scenario.countries, emulated=emulated, netns=namespaces)
    run = Run(scenario, cluster, namespaces or cluster.links, random.Random(seed))
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            run.clients = [node.client() for node in cluster.nodes]
            await trio.sleep(2)  # gossip mesh formation
            run.t0, run.wall0_ms = trio.current_time(), time.time() * 1000
            bar = tqdm(total=int(scenario.duration_s), unit="s", desc=scenario.name[:40], disable=not progress)
            async with trio.open_nursery() as timeline:
                for fault in scenario.faults:
                    timeline.start_soon(play_fault, run, fault)
                for inject in scenario.injects:
                    timeline.start_soon(play_inject, run, inject)
                for second in range(int(scenario.duration_s)):
                    await trio.sleep_until(run.t0 + second + 1)
                    bar.update(1)
                    bar.set_postfix(acked=len(run.acked), faults=len(run.faults))
            bar.close()
            run.links.heal()
            for node in range(len(cluster.nodes)):
                run.links.shape_node(node, Shape())
            run.heals_ms.append(run.now_ms())
            run.faults.append({"at_ms": run.now_ms(), "action": "final heal", "nodes": []})
            converged_s = await converge(run)
            states = await incident_states(run)
            report = analyse(run, run.cluster.stored(), converged_s, states)
            for api in run.clients:
                await api.aclose()
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    write_report(report, out)
    return report
