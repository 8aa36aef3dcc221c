"""`qroc sim exercise MSEL --out DIR`: a whole exercise on real node processes, played by
simulated players, with one link cut mid-exercise; the after-action report comes out.

The controller's node (the MSEL's controller country) loads the MSEL, compressed by
`speed`, and conducts it as it would with people. Every node runs a player: it
follows its node's live events and, for each entry the controller releases to it, takes
note after a reaction time (drawn, in play seconds, from `reaction_s`) and, for some
incidents, answers with a comment. Halfway through, the link between the controller
and the first other node is cut for `cut_fraction` of the play time, at least CUT_MIN_S
(both directions, through the link emulator). At ENDEX the runner waits up to `settle_s` for the receipts,
then fetches report.json and report.html from the controller (timing both) and writes
them, with a summary, into DIR.
"""

import base64
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import trio

from exercise.msel import Msel, parse

from .federation import Cluster

# A cut shorter than this is no link failure: the node closes a connection whose link has
# been silent for 5 s (README, liveness), so it would show in no report.
CUT_MIN_S = 8.0


@dataclass(frozen=True)
class Plan:
    msel: Msel
    shipped: str | None  # the shipped MSEL's name, or None: `data` and `files` are sent
    data: bytes
    files: dict[str, bytes]
    countries: list[str]  # the nodes, the controller first
    speed: float = 60.0
    seed: int = 1
    reaction_s: tuple[float, float] = (15.0, 120.0)  # play seconds before a player takes note
    answer_ratio: float = 0.5  # incidents a player answers with a comment
    cut_fraction: float = 0.1  # of the play time, from halfway
    settle_s: float = 30.0


def plan_for(source: str, nodes: int | None = None, **options: Any) -> Plan:
    """A plan for a shipped MSEL (by name) or an MSEL file (its attachments beside it)."""
    from node.exercise.conductor import shipped, shipped_files

    if source in shipped():
        data, files = shipped_files(source)
        name: str | None = source
    else:
        path = Path(source)
        data = path.read_bytes()
        folder = path.parent
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.glob("files/*")) if p.is_file()}
        name = None
    msel = parse(data, {k: len(v) for k, v in files.items()})
    others = [c for c in msel.participants if c != msel.controller]
    countries = [msel.controller, *others][: nodes or len(msel.participants)]
    return Plan(msel, name, data, files, countries, **options)


async def _events(api: httpx.AsyncClient) -> Any:
    """The node's live events, as dicts, for ever (reconnecting when the stream drops)."""
    while True:
        try:
            async with api.stream("GET", "/v1/events", timeout=None) as response:
                async for line in response.aiter_lines():
                    if line.startswith("data:"):
                        yield json.loads(line[5:])
        except httpx.HTTPError:
            await trio.sleep(0.5)


async def player(plan: Plan, api: httpx.AsyncClient, controller: str, rng: random.Random, log: list[dict]) -> None:
    """Take note of every entry the controller releases to this node, and answer some."""
    answered: set[str] = set()
    async with trio.open_nursery() as reactions:
        async for event in _events(api):
            entry = event["entry"]
            if entry["author"]["country"] != controller or entry["kind"] == "ack" or entry["exercise"] is None:
                continue
            delay = rng.uniform(*plan.reaction_s) / plan.speed
            answer = entry["incident"] not in answered and rng.random() < plan.answer_ratio
            if answer:
                answered.add(entry["incident"])
            reactions.start_soon(_react, api, entry, delay, answer, log)


async def _react(api: httpx.AsyncClient, entry: dict, delay_s: float, answer: bool, log: list[dict]) -> None:
    await trio.sleep(delay_s)
    noted = await _post(api, f"/v1/incidents/{entry['incident']}/acks", {"entry": entry["id"]})
    log.append({"entry": entry["id"], "status": noted})
    if answer:
        await _post(api, f"/v1/incidents/{entry['incident']}/comments", {"text": "Received; acting on it."})


async def _post(api: httpx.AsyncClient, path: str, body: dict) -> int | None:
    """POST, a few times over while the node refuses (503 while it catches up) or drops a
    kept-alive connection; the last status, or None if it never answered."""
    status = None
    for attempt in range(5):
        try:
            status = (await api.post(path, json=body)).status_code
        except httpx.TransportError:
            status = None
        if status is not None and status < 500:
            return status
        await trio.sleep(0.5 * (attempt + 1))
    return status


async def run(plan: Plan, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    n = len(plan.countries)
    cluster = Cluster(out / "nodes", n, seed=plan.seed, countries=plan.countries, sync_interval_s=2.0)
    rng = random.Random(plan.seed)
    play_s = plan.msel.duration_ms / 1000 / plan.speed  # wall seconds
    acks: list[dict] = []
    try:
        async with trio.open_nursery() as nursery:
            await cluster.start(nursery)
            clients = [node.client() for node in cluster.nodes]
            control = clients[0]
            for api in clients:  # the controller's OC plays too
                nursery.start_soon(player, plan, api, plan.msel.controller, random.Random(rng.random()), acks)
            body: dict[str, Any] = {"speed": plan.speed}
            if plan.shipped is not None:
                body["shipped"] = plan.shipped
            else:
                body["msel"] = plan.data.decode()
                body["files"] = {k: base64.b64encode(v).decode() for k, v in plan.files.items()}
            loaded = await control.post("/v1/conduct", json=body)
            loaded.raise_for_status()
            run_id = loaded.json()["run"]
            (await control.post(f"/v1/conduct/{run_id}/start")).raise_for_status()
            started = trio.current_time()
            cut: dict[str, float] = {}
            if n > 1:
                await trio.sleep_until(started + play_s / 2)
                cut["down_s"] = trio.current_time() - started
                cluster.links.set_link(0, 1, False)
                cluster.links.set_link(1, 0, False)
                await trio.sleep(max(play_s * plan.cut_fraction, CUT_MIN_S))
                cluster.links.set_link(0, 1, True)
                cluster.links.set_link(1, 0, True)
                cut["up_s"] = trio.current_time() - started
            await trio.sleep_until(started + play_s)
            with trio.move_on_after(plan.settle_s):  # the last injects, due at the very end
                while any(
                    i["state"] != "released" for i in (await control.get(f"/v1/conduct/{run_id}")).json()["injects"]
                ):
                    await trio.sleep(0.1)
            (await control.post(f"/v1/conduct/{run_id}/end")).raise_for_status()
            report = await _settled_report(control, run_id, set(plan.countries), plan.settle_s)
            timings = {}
            for fmt in ("json", "html"):
                t0 = time.perf_counter()
                response = await control.get(f"/v1/conduct/{run_id}/report.{fmt}")
                response.raise_for_status()
                timings[f"report_{fmt}_ms"] = round((time.perf_counter() - t0) * 1000, 1)
                (out / f"report.{fmt}").write_bytes(response.content)
            for api in clients:
                await api.aclose()
            nursery.cancel_scope.cancel()
    finally:
        cluster.stop()
    summary = _summary(plan, report, cut, timings, len(acks))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


async def _settled_report(
    control: httpx.AsyncClient, run_id: int, present: set[str], settle_s: float
) -> dict[str, Any]:
    """The report once every released inject is noted at every target with a node (or at
    settle_s)."""
    with trio.move_on_after(settle_s):
        while True:
            report = (await control.get(f"/v1/conduct/{run_id}/report.json")).json()
            if not [u for u in report["unacknowledged"] if u["country"] in present]:
                return report  # type: ignore[no-any-return]
            await trio.sleep(1)
    return (await control.get(f"/v1/conduct/{run_id}/report.json")).json()  # type: ignore[no-any-return]


def _summary(plan: Plan, report: dict, cut: dict, timings: dict, acks: int) -> dict[str, Any]:
    """Per OC, delivery and acknowledgement p50/p99 (ms after release; acknowledgement
    includes the players' drawn reaction time), over the OCs that have a node."""
    present = set(plan.countries)
    released = [i for i in report["injects"] if i["released_ms"] is not None]
    return {
        "exercise": plan.msel.name,
        "nodes": len(plan.countries),
        "speed": plan.speed,
        "injects_released": len(released),
        "injects_total": len(report["injects"]),
        "link_cut": {"between": plan.countries[:2], **cut},
        "acks_posted": acks,
        "unacknowledged": len([u for u in report["unacknowledged"] if u["country"] in present]),
        "per_oc": [
            {
                "country": p["country"],
                "targeted": p["targeted"],
                "delivered": p["delivered"],
                "acknowledged": p["acknowledged"],
                "delivery_p50_ms": (p["delivery"] or {}).get("p50_ms"),
                "delivery_p99_ms": (p["delivery"] or {}).get("p99_ms"),
                "ack_p50_ms": (p["acknowledgement"] or {}).get("p50_ms"),
                "ack_p99_ms": (p["acknowledgement"] or {}).get("p99_ms"),
            }
            for p in report["per_oc"]
            if p["country"] in present
        ],
        "link_failures": report["link_failures"],
        **timings,
    }
