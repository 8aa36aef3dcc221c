"""Scale figures (issue 15, item 4), each beside a reference measured in the same run.

    python -m simulations.bench_scale [--entries 100000] [--incidents 1000] [--runs 5]
        [--no-profile] [--json FILE]

1. Memory: VmRSS and VmHWM of a real `qroc run DATA_DIR` process holding N entries over
   M incidents (written by several members), once it is writable and has settled;
   reference: the same for an empty node of the same federation shape. Target 150 MiB.
2. Start-up: seconds from exec until GET /v1/health answers, and until it says writable
   (one completed sync with a member, which the write gate needs), median of --runs
   starts after a warm-up; reference: an empty node. Target 3 s to API ready.
3. Simulator: simulated seconds per wall second of simulations/vopr.py at 1,000 replicas
   (simulations/bench_vopr.py's configuration, in its own process); reference: the same at
   100 replicas. Target 50.
4. Profile of the loaded node's start-up until writable, on the real `qroc run` code path
   in a child process: CPU by phase and function (cProfile, with call counts; py-spy
   samples too when it is installed: proportions without cProfile's per-call overhead),
   and Python memory by line (tracemalloc) with what the resident entries hold.
   `--no-profile` leaves it out (the whole run takes about 3 minutes, 1.5 without).

The data directory is built without the API: entries are signed with protocol.entry.create
and written with node.store.Store.put in batches; the measured node's one reachable member
holds a copy of the same store (so its first sync, which opens writes, moves nothing).
Every figure is printed on stderr as a table with its ratios; the report (JSON) on stdout.
"""

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import trio

from node.datadir import DataDir
from node.store import Store
from protocol.body import Category, Comment, Location, Open, Registers, Severity, Status, Update
from protocol.entry import Entry, create
from protocol.hlc import pack
from protocol.identity import Identity

from .bench_vopr import scale as vopr_scale
from .federation import NodeProcess, direct, emit, make_datadirs, plan_nodes

TARGETS = {"rss_mib": 150.0, "api_ready_s": 3.0, "simulated_s_per_wall_s": 50.0}
ISSUE_BASELINE_SIM_RATE = 8.1  # issue 15's "today" figure, for comparison only
BATCH = 5_000
SPAN_MS = 30 * 86_400_000  # the entries' HLCs spread over the last 30 days

WORDS = str.split(
    "unit patrol reports crowd gate north south east west exit closed open traffic police ambulance fire "
    "brigade suspect vehicle registration seen moving towards border crossing motorway station platform "
    "train delayed evacuation shelter casualties minor injuries confirmed liaison officer requests update "
    "from partner centre situation stable escalating drone sighting perimeter secured checkpoint cordon "
    "media attention press statement prepared awaiting confirmation second team deployed helicopter"
)
PLACES = ["Brussels", "Prague", "Berlin", "Madrid", "Paris", "Rome", "Amsterdam", "Warsaw", "Vienna", "Lisbon"]
OPERATORS = ["Jana Novák", "Luc Peeters", "Anna Schmidt", "Marta García", "Piotr Nowak", None]
TAGS = ["football", "border", "rail", "cbrne", "vip", "protest", "missing-person", "cross-border"]


def _text(rng: random.Random, lo: int, hi: int) -> str:
    words: list[str] = []
    target = rng.randint(lo, hi)
    while sum(len(w) + 1 for w in words) < target:
        words.append(rng.choice(WORDS))
    return " ".join(words).capitalize() + "."


def _body(rng: random.Random, k: int, every: int, incidents: list[bytes], wanted: int) -> Any:
    """Entry k's body: an opening every `every` entries (until `wanted` are open), else an
    update (30 %) or a comment about a recent incident (most traffic is about live ones)."""
    if not incidents or (k % every == 0 and len(incidents) < wanted):
        place = rng.choice(PLACES)
        registers = Registers(
            title=f"{rng.choice(['Crowd', 'Manhunt', 'Hazmat', 'Threat'])} near {place} #{len(incidents) + 1}",
            category=rng.choice(list(Category)),
            severity=rng.choice(list(Severity)),
            status=Status.OPEN,
            description=_text(rng, 80, 400),
            location=Location(rng.randint(36, 60) * 10**7, rng.randint(-9, 25) * 10**7, place),
        )
        return Open(registers, tuple(rng.sample(TAGS, rng.randint(0, 3))))
    back = min(len(incidents) - 1, int(rng.expovariate(1 / 30)))
    incident = incidents[-1 - back]
    if rng.random() < 0.3:
        registers = Registers(status=rng.choice(list(Status)), severity=rng.choice(list(Severity)))
        return Update(incident, registers, tuple(rng.sample(TAGS, rng.randint(0, 1))))
    return Comment(incident, _text(rng, 30, 300))


def build(root: Path, members: int, entries: int, incidents: int, seed: int) -> tuple[list[DataDir], dict[str, Any]]:
    """Data dirs of `members` members, node 0 and node 1 linked to each other only (the
    rest are authors that are never up); when `entries`, node 0's store holds them, written
    by every member in turn at random, and node 1 holds a copy."""
    started = time.perf_counter()
    plans = plan_nodes(members)
    links = {0: [1], 1: [0], **{i: [] for i in range(2, members)}}
    dirs = make_datadirs(root, plans, direct(plans, links))
    info: dict[str, Any] = {"members": members, "entries": entries, "incidents": 0}
    if not entries:
        return dirs, info
    rng = random.Random(seed)
    identities = [Identity(bytes([i + 1]) * 32) for i in range(members)]  # make_datadirs' seeds
    assert [i.public_key for i in identities] == [d.identity().public_key for d in dirs]
    roster = dirs[0].roster()
    store = Store(dirs[0].db_path, roster)  # no own key: batches commit with synchronous=NORMAL
    heads: list[tuple[int, bytes | None]] = [(0, None)] * members
    opened: list[bytes] = []
    batch: list[Entry] = []
    now_ms = int(time.time() * 1000)
    first_ms = now_ms - SPAN_MS
    every = max(1, entries // incidents)
    kinds = {"open": 0, "update": 0, "comment": 0}
    sizes = 0
    for k in range(entries):
        author = rng.randrange(members)
        seq, prev = heads[author]
        body = _body(rng, k, every, opened, incidents)
        hlc = pack(first_ms + k * SPAN_MS // entries, 0)
        entry = create(identities[author], seq + 1, prev, hlc, body, operator=rng.choice(OPERATORS))
        heads[author] = (seq + 1, entry.id)
        if isinstance(body, Open):
            opened.append(entry.id)
        kinds[entry.kind.name.lower()] += 1
        sizes += len(entry.signed)
        batch.append(entry)
        if len(batch) == BATCH or k == entries - 1:
            store.now_ms = now_ms
            store.put(batch, [], [], hlc)
            batch = []
    store.close()  # the last connection checkpoints the WAL into node.db
    shutil.copy(dirs[0].db_path, dirs[1].db_path)
    info.update(
        incidents=len(opened),
        kinds=kinds,
        envelope_bytes_mean=round(sizes / entries, 1),
        db_mib=round(dirs[0].db_path.stat().st_size / 2**20, 1),
        build_s=round(time.perf_counter() - started, 2),
    )
    return dirs, info


async def health(api: httpx.AsyncClient) -> dict[str, Any] | None:
    try:
        response = await api.get("/v1/health")
    except httpx.TransportError:
        return None
    return response.json() if response.status_code == 200 else None  # type: ignore[no-any-return]


async def wait_up(node: NodeProcess, timeout_s: float = 60) -> None:
    async with node.client() as api:
        with trio.fail_after(timeout_s):
            while await health(api) is None:
                await trio.sleep(0.05)


async def one_start(node: NodeProcess, settle_s: float, timeout_s: float = 60) -> dict[str, Any]:
    """Start the node; seconds to API ready and to writable; memory then and after `settle_s`."""
    started = time.perf_counter()
    node.start()
    api_ready = writable = None
    out: dict[str, Any] = {}
    try:
        async with node.client() as api:
            with trio.fail_after(timeout_s):
                while writable is None:
                    state = await health(api)
                    at = time.perf_counter() - started
                    if state is not None and api_ready is None:
                        api_ready = at
                        out["rss_mib_at_api_ready"] = node.memory_kib()["VmRSS"] / 1024
                    if state is not None and state["writable"]:
                        writable = at
                    else:
                        await trio.sleep(0.01)
            out["counts"] = (await api.get("/v1/node")).json()["counts"]
        await trio.sleep(settle_s)
        memory = node.memory_kib()
        for line in Path(f"/proc/{node.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile"):  # the heap; shared libraries and other mapped files
                out[f"{key.lower().replace('rss', 'rss_')}_mib"] = int(value.split()[0]) / 1024
    finally:
        node.stop()
    return {
        "api_ready_s": api_ready,
        "writable_s": writable,
        **out,
        "rss_mib": memory["VmRSS"] / 1024,
        "hwm_mib": memory["VmHWM"] / 1024,
    }


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


async def startups(loaded: list[DataDir], empty: list[DataDir], root: Path, runs: int, settle_s: float) -> Any:
    """Alternate starts of the loaded and the empty node (one warm-up each, not counted),
    each with its peer up."""
    peers = [NodeProcess(d[1], root / f"peer-{i}.log") for i, d in enumerate((loaded, empty))]
    nodes = [NodeProcess(d[0], root / f"node-{i}.log") for i, d in enumerate((loaded, empty))]
    results: list[list[dict[str, Any]]] = [[], []]
    try:
        for peer in peers:
            peer.start()
        for peer in peers:
            await wait_up(peer)
        for run in range(runs + 1):
            for i, node in enumerate(nodes):
                result = await one_start(node, settle_s)
                if run:
                    results[i].append(result)
                await trio.sleep(0.5)
    finally:
        for peer in peers:
            peer.stop()
    return results


# --- profile: a child process runs the real `qroc run` under cProfile or tracemalloc ---

# The child's bootstrap: only the standard library before the profiler starts, so that
# every import `qroc run` makes is profiled; then node.cli.main's `run` itself, until
# GET /v1/health says writable; then SIGTERM to itself (the node stops as it would), and
# the profile is written out by write_profile below.
PROFILE_BOOT = """
import cProfile, json, os, signal, sys, threading, time, tracemalloc, urllib.request
mode, data_dir, url, out, top = sys.argv[1:]
frozen = []  # once set, the profiler's clock stops: what follows (shutdown) costs nothing
result = {}

def watch():
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if json.load(response)["writable"]:
                    break
        except OSError:
            pass
        time.sleep(0.02)
    frozen.append(time.perf_counter())
    result["writable_s"] = frozen[0] - started
    if mode == "memory":
        result["snapshot"] = tracemalloc.take_snapshot()
        result["tracemalloc_overhead_mib"] = tracemalloc.get_tracemalloc_memory() / 2**20
        tracemalloc.stop()
        from simulations.bench_scale import resident
        result["resident"] = resident()
    with open(f"/proc/{os.getpid()}/status") as status:
        result["rss_mib"] = next(int(l.split()[1]) for l in status if l.startswith("VmRSS:")) / 1024
    os.kill(os.getpid(), signal.SIGTERM)

profiler = cProfile.Profile(lambda: frozen[0] if frozen else time.perf_counter())
started = time.perf_counter()
threading.Thread(target=watch, daemon=True).start()
if mode == "cpu":
    profiler.enable()
else:
    tracemalloc.start(1)
from node.cli.main import main
try:
    main(["run", data_dir], standalone_mode=False)
finally:
    profiler.disable()
    tracemalloc.stop()
from simulations.bench_scale import write_profile
write_profile(mode, profiler, result, out, int(top))
"""


def resident() -> dict[str, Any]:
    """What the running node's entries hold in memory (sys.getsizeof, MiB): every Entry
    object alive in the profiled process once it is writable (the fold keeps openings,
    media and acks; comments by id), and the comment ids its incident states hold. Reads a
    few attributes of protocol/ classes; one it does not find is reported, not fatal."""
    import gc

    from node.node import Node
    from protocol.body import Comment
    from protocol.entry import Entry

    try:
        objects = gc.get_objects()
        node = next(o for o in objects if type(o) is Node)
        entries = [o for o in objects if type(o) is Entry]
        comment_ids = sum(len(p.comments) for s in node.replica.incidents.values() for p in s.partials.values())
    except Exception as exc:
        return {"unavailable": repr(exc)}

    def mib(values: Any) -> float:
        return round(sum(sys.getsizeof(v) for v in values) / 2**20, 1)

    def duplicated(values: list[Any]) -> float:
        """What the copies cost beyond one object per distinct value (interning saves it)."""
        distinct: dict[Any, Any] = {}
        return mib(v for v in values if distinct.setdefault(v, v) is not v)

    bodies = [e.body for e in entries]
    return {
        "entries_resident": len(entries),
        "comment_ids_held_by_incident_states": comment_ids,
        "envelopes_mib": mib(e.signed for e in entries),
        "entry_objects_mib": mib(entries),
        "ids_mib": mib(e.id for e in entries),
        "body_objects_mib": mib(bodies),
        "comment_texts_mib": mib(b.text for b in bodies if isinstance(b, Comment)),
        "duplicated_bytes_mib": {
            "author": duplicated([e.author for e in entries]),
            "prev (equal to the previous entry's id)": duplicated(
                [e.id for e in entries] + [e.prev for e in entries if e.prev is not None]
            ),
            "body.incident": duplicated([e.id for e in entries] + [getattr(b, "incident", None) for b in bodies]),
            "operator": duplicated([e.operator for e in entries if e.operator is not None]),
        },
    }


def write_profile(mode: str, profiler: cProfile.Profile, result: dict[str, Any], out: str, top: int) -> None:
    if mode == "cpu":
        result["top"] = cpu_top(profiler, top)
    else:
        result.update(memory_top(result.pop("snapshot"), top))
    Path(out).write_text(json.dumps(result, indent=2))


def _short(path: str) -> str:
    """A source path without the checkout's or sys.path's prefix."""
    for root in (str(Path(__file__).resolve().parent.parent), *sorted(sys.path, key=len, reverse=True)):
        if root and path.startswith(root + os.sep):
            return path[len(root) + 1 :]
    return path


def _where(func: tuple[str, int, str]) -> str:
    path, line, name = func
    return f"{_short(path)}:{line}({name})" if line else name


# Start-up phases: (label, path suffix, function); their cumulative times overlap where
# one calls another (decode runs inside chained, which runs inside Node.__init__).
PHASES = [
    ("imports (every module, outermost)", "importlib._bootstrap>", "_find_and_load"),
    ("Node.__init__ (store to replica)", "node/node.py", "__init__"),
    ("  Store.chained: read and decode entries", "node/store.py", "chained"),
    ("    protocol.entry.decode", "protocol/entry.py", "decode"),
    ("  Replica.restore: log and fold", "protocol/replica.py", "restore"),
    ("    IncidentState.apply", "protocol/incident.py", "apply"),
    ("  Node._store_views: incident summaries", "node/node.py", "_store_views"),
    ("    views.incident_summary", "node/views.py", "incident_summary"),
    ("    Store.put_incidents", "node/store.py", "put_incidents"),
    ("  Receipts.unanswered", "node/exercise/receipts.py", "unanswered"),
    ("Node.run until writable (host, API, sync)", "node/node.py", "run"),
    ("  make_host", "node/mesh/host.py", "make_host"),
    ("  serve_api (app, hypercorn)", "node/api/app.py", "serve_api"),
]
# Frames that only pass calls through (the CLI, the event loop, the import machinery):
# left out of the cumulative ranking, where they would fill the top rows.
WRAPPERS = ("click/", "importlib._bootstrap", "trio/_core/", "outcome/", "<string>", "contextvars", "builtins.exec")


def cpu_top(profiler: cProfile.Profile, top: int) -> dict[str, Any]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    # Per cent of the profiled time: the larger of the self times' sum and the root's
    # cumulative time (a custom timer makes them differ by a little).
    total = max(sum(tt for _, _, tt, _, _ in raw.values()), max(ct for _, _, _, ct, _ in raw.values()))
    phases = []
    for label, suffix, name in PHASES:
        hits = [v for (path, _, func), v in raw.items() if path.endswith(suffix) and func == name]
        seconds = sum(ct for _, _, _, ct, _ in hits)
        calls = sum(nc for _, nc, _, _, _ in hits)
        phases.append(
            {"phase": label, "calls": calls, "cumulative_s": round(seconds, 3), "pct": round(100 * seconds / total, 1)}
        )

    def rows(key: int) -> list[dict[str, Any]]:
        ranked = sorted(raw.items(), key=lambda item: item[1][key], reverse=True)
        if key == 3:
            ranked = [item for item in ranked if not any(w in _where(item[0]) for w in WRAPPERS)]
        ranked = ranked[:top]
        return [
            {
                "function": _where(func),
                "calls": nc,
                "self_s": round(tt, 3),
                "self_pct": round(100 * tt / total, 1),
                "cumulative_s": round(ct, 3),
                "cumulative_pct": round(100 * ct / total, 1),
            }
            for func, (_, nc, tt, ct, _) in ranked
        ]

    return {"profiled_s": round(total, 3), "phases": phases, "by_self_time": rows(2), "by_cumulative_time": rows(3)}


def memory_top(snapshot: tracemalloc.Snapshot, top: int) -> dict[str, Any]:
    snapshot = snapshot.filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    total = sum(s.size for s in snapshot.statistics("filename"))

    def rows(key: str) -> list[dict[str, Any]]:
        return [
            {
                "where": _short(s.traceback[0].filename) + (f":{s.traceback[0].lineno}" if key == "lineno" else ""),
                "mib": round(s.size / 2**20, 2),
                "pct": round(100 * s.size / total, 1),
                "blocks": s.count,
            }
            for s in snapshot.statistics(key)[:top]
        ]

    return {"traced_total_mib": round(total / 2**20, 1), "by_line": rows("lineno"), "by_file": rows("filename")}


def run_profile(loaded: list[DataDir], root: Path, top: int) -> dict[str, Any]:
    """The profiles of the loaded node's start-up (cProfile, tracemalloc, py-spy), its peer up."""
    peer = NodeProcess(loaded[1], root / "profile-peer.log")
    config = loaded[0].config()
    url = f"http://{config.api_host}:{config.api_port}/v1/health"
    out: dict[str, Any] = {}
    try:
        peer.start()
        trio.run(wait_up, peer)
        for mode in ("cpu", "memory"):
            path = root / f"profile-{mode}.json"
            with open(root / f"profile-{mode}.log", "ab") as log:
                subprocess.run(
                    [sys.executable, "-c", PROFILE_BOOT, mode, str(loaded[0].path), url, str(path), str(top)],
                    stdout=log,
                    stderr=log,
                    check=True,
                    timeout=180,
                    cwd=Path(__file__).resolve().parent.parent,
                )
            out[mode] = json.loads(path.read_text())
        out["sampled"] = sampled_profile(loaded, root, url, top)
    finally:
        peer.stop()
    return out


def sampled_profile(loaded: list[DataDir], root: Path, url: str, top: int, rate: int = 250) -> dict[str, Any]:
    """py-spy (if installed) samples a plain `qroc run` from exec until writable: real
    proportions, without cProfile's per-call overhead (which inflates call-heavy code)."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {"unavailable": "py-spy is not installed (pip install py-spy)"}
    raw = root / "py-spy.txt"
    command = [spy, "record", "-r", str(rate), "--format", "raw", "-o", str(raw), "--"]
    command += [sys.executable, "-m", "node", "run", str(loaded[0].path)]
    with open(root / "profile-sampled.log", "ab") as log:
        recorder = subprocess.Popen(command, stdout=log, stderr=log)
    started = time.perf_counter()
    try:
        with httpx.Client(timeout=5) as client:
            while time.perf_counter() - started < 120:
                try:
                    if client.get(url).json()["writable"]:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        writable_s = time.perf_counter() - started
    finally:
        children = Path(f"/proc/{recorder.pid}/task/{recorder.pid}/children").read_text().split()
        for child in children:  # the node: py-spy writes its samples when it exits
            os.kill(int(child), signal.SIGTERM)
        recorder.wait(60)
    return {"rate_hz": rate, "writable_s": round(writable_s, 3), **sampled_top(raw.read_text(), top)}


NO_FRAME = "(no Python frame: interpreter start and exit)"


def sampled_top(raw: str, top: int) -> dict[str, Any]:
    """Inclusive and self shares of functions in py-spy's collapsed stacks ("f (file:line);… n")."""
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        total += n
        frames = [re.sub(r":\d+\)$", ")", f) or NO_FRAME for f in stack.split(";")]
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + n
        own[frames[-1]] = own.get(frames[-1], 0) + n
    total = max(total, 1)

    def match(frame: str, suffix: str, name: str) -> bool:
        func, _, where = frame.partition(" (")
        return where.rstrip(")").endswith(suffix) and (func == name or func.endswith("." + name))

    phases = []
    for label, suffix, name in PHASES:
        hits = [inclusive[f] for f in inclusive if match(f, suffix, name)]
        samples = max(hits, default=0)  # one function (the outermost frames count once per stack)
        phases.append({"phase": label, "samples": samples, "pct": round(100 * samples / total, 1)})

    def rows(counts: dict[str, int], skip: bool) -> list[dict[str, Any]]:
        ranked = sorted(counts.items(), key=lambda item: item[1], reverse=True)
        if skip:
            ranked = [item for item in ranked if not any(w in item[0] for w in (*WRAPPERS, "runpy", "__main__"))]
        return [{"function": f, "samples": n, "pct": round(100 * n / total, 1)} for f, n in ranked[:top]]

    return {"samples": total, "phases": phases, "inclusive": rows(inclusive, True), "self": rows(own, False)}


# --- the report ---


def figure(name: str, value: float, reference_name: str, reference: float, target: float, lower: bool) -> Any:
    """A figure with its reference and target; `lower`: lower is better."""
    return {
        "figure": name,
        "value": round(value, 3),
        "reference": reference_name,
        "reference_value": round(reference, 3),
        "ratio_to_reference": round(value / reference, 3),
        "target": target,
        "ratio_to_target": round(value / target, 3),
        "meets_target": value <= target if lower else value >= target,
    }


def table(figures: list[dict[str, Any]]) -> str:
    lines = [
        f"{'figure':<46} {'value':>9} {'reference':>10} {'ratio':>7} {'target':>7} {'/target':>8}  ok  reference is",
    ]
    for f in figures:
        lines.append(
            f"{f['figure']:<46} {f['value']:>9.2f} {f['reference_value']:>10.2f} {f['ratio_to_reference']:>7.2f}"
            f" {f['target']:>7.1f} {f['ratio_to_target']:>8.2f}  {'yes' if f['meets_target'] else 'NO ':<3} "
            f"{f['reference']}"
        )
    return "\n".join(lines)


def profile_summary(profile: dict[str, Any], top: int = 12) -> str:
    lines = []
    if "cpu" in profile:
        cpu = profile["cpu"]
        lines.append(f"start-up CPU profile (cProfile, {cpu['top']['profiled_s']} s profiled until writable), phases:")
        lines += [f"  {r['pct']:5.1f} %  {r['cumulative_s']:7.3f} s  {r['phase']}" for r in cpu["top"]["phases"]]
        lines.append("by cumulative time (pass-through frames left out):")
        lines += [
            f"  {r['cumulative_pct']:5.1f} %  {r['cumulative_s']:7.3f} s  {r['function']}"
            for r in cpu["top"]["by_cumulative_time"][:top]
        ]
        lines.append("by self time:")
        lines += [
            f"  {r['self_pct']:5.1f} %  {r['self_s']:7.3f} s  {r['calls']:>9} calls  {r['function']}"
            for r in cpu["top"]["by_self_time"][:top]
        ]
    sampled = profile.get("sampled", {})
    if "samples" in sampled:
        n, until = sampled["samples"], sampled["writable_s"]
        lines.append(f"start-up sampled by py-spy ({n} samples, {until} s to writable, shutdown included):")
        lines += [f"  {r['pct']:5.1f} %  {r['phase']}" for r in sampled["phases"]]
        lines.append("inclusive (pass-through frames left out):")
        lines += [f"  {r['pct']:5.1f} %  {r['function']}" for r in sampled["inclusive"][:top]]
        lines.append("self:")
        lines += [f"  {r['pct']:5.1f} %  {r['function']}" for r in sampled["self"][:top]]
    elif sampled:
        lines.append(f"no sampled profile: {sampled['unavailable']}")
    if "memory" in profile:
        memory = profile["memory"]
        lines.append(
            f"start-up Python memory (tracemalloc) when writable: {memory['traced_total_mib']} MiB traced,"
            f" RSS {memory['rss_mib']:.1f} MiB; by line:"
        )
        lines += [f"  {r['pct']:5.1f} %  {r['mib']:7.2f} MiB  {r['where']}" for r in memory["by_line"][:top]]
        lines.append(f"resident structures: {json.dumps(memory.get('resident'))}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=1_000)
    parser.add_argument("--members", type=int, default=4, help="authors of the entries (at least 2)")
    parser.add_argument("--runs", type=int, default=5, help="counted starts of each node")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds after writable before reading RSS")
    parser.add_argument("--replicas", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument("--top", type=int, default=25, help="rows of each profile table in the JSON")
    parser.add_argument("--keep", action="store_true", help="keep the data directories")
    parser.add_argument("--json", help="also write the report here")
    args = parser.parse_args()
    assert args.members >= 2, "the measured node needs a member to sync with before it writes"
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="qroc-bench-scale-"))
    try:
        # The simulator first, alone on the machine (no node processes running).
        sim = vopr_scale(args.replicas, args.seed)
        sim_reference = vopr_scale(max(20, args.replicas // 10), args.seed)  # bench_vopr: 10 writers
        loaded, dataset = build(root / "loaded", args.members, args.entries, args.incidents, args.seed)
        empty, _ = build(root / "empty", args.members, 0, 0, args.seed)
        full_runs, empty_runs = trio.run(startups, loaded, empty, root, args.runs, args.settle)
        assert all(r["counts"]["entries"] == args.entries for r in full_runs), full_runs[0]["counts"]
        profile = {} if args.no_profile else run_profile(loaded, root, args.top)
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    n = f"{args.entries:,} entries"
    rss, api_s = TARGETS["rss_mib"], TARGETS["api_ready_s"]

    def node_figure(name: str, key: str, target: float) -> Any:
        return figure(name, _median(full_runs, key), "empty node", _median(empty_runs, key), target, True)

    figures = [
        node_figure(f"node RSS, {n} (MiB)", "rss_mib", rss),
        node_figure(f"node peak RSS (VmHWM), {n} (MiB)", "hwm_mib", rss),
        node_figure(f"start-up to API ready, {n} (s)", "api_ready_s", api_s),
        node_figure(f"start-up to writable, {n} (s)", "writable_s", api_s),
        figure(
            f"simulator at {args.replicas:,} replicas (sim s/wall s)",
            sim["simulated_s_per_wall_s"],
            f"{sim_reference['replicas']:,} replicas",
            sim_reference["simulated_s_per_wall_s"],
            TARGETS["simulated_s_per_wall_s"],
            False,
        ),
    ]
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "dataset": dataset,
        "figures": figures,
        "startup_runs": {"loaded": full_runs, "empty": empty_runs},
        "simulator": {"measured": sim, "reference": sim_reference, "issue_baseline": ISSUE_BASELINE_SIM_RATE},
        "profile": profile,
        "bench_wall_s": round(time.perf_counter() - started, 1),
    }
    print(table(figures), file=sys.stderr)
    if profile:
        print(profile_summary(profile), file=sys.stderr)
    emit(report, args.json)


if __name__ == "__main__":
    main()
