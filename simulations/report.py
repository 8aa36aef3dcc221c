"""Checks and reports of an emulation run: report.json, report.md and PNG plots."""

import json
from pathlib import Path
from typing import Any

from .bench_mesh import percentile

Cut = tuple[str, float, float]  # node, cut at (ms), back at (ms)
CUTTING = {"isolate", "down"}  # fault actions that take a node's links away
RETURNING = {"restore", "up"}  # ... and bring them back; every heal brings all back


def cut_windows(faults: list[dict[str, Any]]) -> list[Cut]:
    """(node, cut at, back at) in ms for every time a node's links were cut (isolate or a
    flap's down) and came back (restore, a flap's up, or a heal)."""
    down: dict[str, float] = {}
    windows = []
    for fault in faults:
        action, at = fault["action"], fault["at_ms"]
        if action in CUTTING:
            for node in fault["nodes"]:
                down.setdefault(node, at)
        elif action in RETURNING or action.endswith("heal"):
            back = [n for n in down if action.endswith("heal") or n in fault["nodes"]]
            windows += [(n, down.pop(n), at) for n in back]
    return windows


def catch_up(
    countries: list[str], acked: list[dict[str, Any]], stores: list[dict[bytes, int]], wall0: float, cut: Cut
) -> dict[str, Any]:
    """How long after its links came back a cut node held everything the others wrote before
    then (in) and every other node held everything it wrote before then (out): the later
    of the two is the catch-up. Entries stored before the return count for nothing; an
    entry never stored leaves the figure undefined (None)."""
    name, cut_ms, back_ms = cut
    node = countries.index(name)
    late = {"in": [0.0], "out": [0.0]}
    missing = 0
    for a in acked:
        entry = bytes.fromhex(a["id"])
        written = stores[a["source"]].get(entry)
        if written is None or written - wall0 >= back_ms:
            continue  # written after the return: ordinary traffic, not catching up
        if a["source"] == node:
            direction, targets = "out", [s for i, s in enumerate(stores) if i != node]
        else:
            direction, targets = "in", [stores[node]]
        for store in targets:
            at = store.get(entry)
            if at is None:
                missing += 1
            elif at - wall0 >= back_ms:
                late[direction].append((at - wall0 - back_ms) / 1000)
    in_s, out_s = max(late["in"]), max(late["out"])
    return {
        "node": name,
        "cut_at_s": cut_ms / 1000,
        "back_at_s": back_ms / 1000,
        "cut_s": (back_ms - cut_ms) / 1000,
        "deliveries_in": len(late["in"]) - 1,  # entries that reached it after the return
        "deliveries_out": len(late["out"]) - 1,  # (entry, node) pairs of its own entries
        "in_s": in_s,
        "out_s": out_s,
        "catch_up_s": None if missing else max(in_s, out_s),
    }


def analyse(run: Any, stores: list[dict[bytes, int]], converged_s: float | None, states: list[Any]) -> dict[str, Any]:
    scenario = run.scenario
    countries = scenario.countries
    wall0 = run.wall0_ms
    ids = [bytes.fromhex(a["id"]) for a in run.acked]
    latencies: dict[str, list[float]] = {c: [] for c in countries}
    deliveries: list[tuple[float, int]] = []  # (ms since start, node)
    missing = 0
    for a, entry in zip(run.acked, ids, strict=True):
        written = stores[a["source"]].get(entry)
        for node, store in enumerate(stores):
            at = store.get(entry)
            if at is None or written is None:
                missing += 1
                continue
            deliveries.append((at - wall0, node))
            if node != a["source"]:
                latencies[countries[node]].append(at - written)
    expected = len(ids) * len(stores)
    heals = []
    for heal in run.heals_ms:
        before = [e for a, e in zip(run.acked, ids, strict=True) if a["at_ms"] <= heal]
        last = max((s[e] - wall0 for s in stores for e in before if e in s), default=heal)
        heals.append({"heal_at_s": heal / 1000, "converged_after_s": max(0.0, (last - heal) / 1000)})
    catch_ups = [catch_up(countries, run.acked, stores, wall0, cut) for cut in cut_windows(run.faults)]
    all_latencies = [v for values in latencies.values() for v in values]
    checks = {
        "every_acknowledged_entry_on_every_node": missing == 0,
        "converged_after_final_heal": converged_s is not None,
        "identical_incident_state_on_all_nodes": all(s == states[0] for s in states),
    }
    expect = scenario.expect
    p99 = percentile(all_latencies, 99)
    if "converge_within_s" in expect:
        checks["expect_converge_within_s"] = converged_s is not None and converged_s <= expect["converge_within_s"]
    if "latency_p99_ms_max" in expect:
        checks["expect_latency_p99_ms_max"] = p99 <= expect["latency_p99_ms_max"]
    if "incidents" in expect:
        checks["expect_incidents"] = len(states[0].get("incidents", [])) == int(expect["incidents"])
    if "delivery_ratio_min" in expect:
        checks["expect_delivery_ratio_min"] = (expected - missing) / max(1, expected) >= expect["delivery_ratio_min"]
    if "catch_up_s_max" in expect:  # a scenario without a cut cannot show it: that fails too
        figures = [c["catch_up_s"] for c in catch_ups]
        checks["expect_catch_up_s_max"] = bool(figures) and all(
            f is not None and f <= expect["catch_up_s_max"] for f in figures
        )
    return {
        "scenario": scenario.name,
        "file": str(scenario.path),
        "nodes": countries,
        "duration_s": scenario.duration_s,
        "started_at_ms": wall0,  # wall clock (epoch ms) of time 0, to read beside the node logs
        "ok": all(checks.values()),
        "checks": checks,
        "acknowledged": {
            kind: sum(1 for a in run.acked if a["kind"] == kind) for kind in ("open", "update", "comment", "media")
        },
        "refused_injects": run.refused,
        "delivery_ratio": (expected - missing) / max(1, expected),
        "latency_ms": {
            "all": {"p50": percentile(all_latencies, 50), "p99": p99, "max": max(all_latencies, default=float("nan"))},
            **{
                c: {"p50": percentile(v, 50), "p90": percentile(v, 90), "p99": percentile(v, 99)}
                for c, v in latencies.items()
            },
        },
        "converged_after_final_heal_s": converged_s,
        "heals": heals,
        "catch_up": catch_ups,
        "faults": [{**f, "at_s": f["at_ms"] / 1000} for f in run.faults],
        "bytes_per_link": {
            f"{countries[a]}->{countries[b]}": count for (a, b), count in run.links.bytes_per_link().items()
        },
        "_latencies": latencies,
        "_deliveries": deliveries,
    }


def write_report(report: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    latencies, deliveries = report.pop("_latencies"), report.pop("_deliveries")
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    plots = _plots(report, latencies, deliveries, out)
    lines = [
        f"# {report['scenario']}",
        "",
        f"Result: **{'PASS' if report['ok'] else 'FAIL'}** — {len(report['nodes'])} nodes, "
        f"{report['duration_s']:.0f} s timeline.",
        "",
        "| check | result |",
        "|---|---|",
        *[f"| {name.replace('_', ' ')} | {'pass' if ok else '**FAIL**'} |" for name, ok in report["checks"].items()],
        "",
        f"Acknowledged writes: {report['acknowledged']}; refused injects: {len(report['refused_injects'])}.",
        f"Delivery ratio: {report['delivery_ratio']:.4f}. "
        + (
            "**Did not converge** after the final heal."
            if report["converged_after_final_heal_s"] is None
            else f"Converged {report['converged_after_final_heal_s']:.2f} s after the final heal."
        ),
        "",
        "## Delivery latency (ms, from the writer's store to this node's)",
        "",
        "| node | p50 | p90 | p99 |",
        "|---|---|---|---|",
        *[
            f"| {c} | {v['p50']:.0f} | {v['p90']:.0f} | {v['p99']:.0f} |"
            for c, v in report["latency_ms"].items()
            if c != "all"
        ],
        "",
        "## Convergence after each heal",
        "",
        "| heal at (s) | converged after (s) |",
        "|---|---|",
        *[f"| {h['heal_at_s']:.1f} | {h['converged_after_s']:.2f} |" for h in report["heals"]],
        "",
        "## Catch-up after each cut",
        "",
        "From the moment a node's links came back until it held everything the others wrote",
        "before then (in) and every other node held everything it wrote before then (out).",
        "",
        "| node | cut (s) | back at (s) | in (s) | out (s) | catch-up (s) |",
        "|---|---|---|---|---|---|",
        *[
            f"| {c['node']} | {c['cut_s']:.1f} | {c['back_at_s']:.1f} | {c['in_s']:.2f} | {c['out_s']:.2f} | "
            + ("**not caught up**" if c["catch_up_s"] is None else f"{c['catch_up_s']:.2f}")
            + " |"
            for c in report["catch_up"]
        ],
        "",
        "## Faults",
        "",
        *[f"- {f['at_s']:.1f} s: {f['action']} {' '.join(map(str, f['nodes']))}" for f in report["faults"]],
        "",
        *[f"![{name}]({name})" for name in plots],
        "",
    ]
    (out / "report.md").write_text("\n".join(lines))


def _plots(
    report: dict[str, Any], latencies: dict[str, list[float]], deliveries: list[tuple[float, int]], out: Path
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for country, values in latencies.items():
        if values:
            ordered = sorted(values)
            ax.plot(ordered, [(i + 1) / len(ordered) for i in range(len(ordered))], label=country)
    ax.set_xscale("symlog", linthresh=10)
    ax.set_xlabel("delivery latency (ms)")
    ax.set_ylabel("fraction of entries")
    ax.set_title("Delivery latency per node")
    ax.legend(ncol=2, fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "latency.png", dpi=100)
    names.append("latency.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(10, 4.5))
    if deliveries:
        ax.scatter([t / 1000 for t, _ in deliveries], [n for _, n in deliveries], s=4)
    for fault in report["faults"]:
        ax.axvline(
            fault["at_s"], color="red" if fault["action"] in ("isolate", "partition", "down") else "green", lw=0.8
        )
    ax.set_yticks(range(len(report["nodes"])), report["nodes"])
    ax.set_xlabel("time (s); red: faults, green: heals")
    ax.set_title("Entries stored on each node over time")
    fig.tight_layout()
    fig.savefig(out / "timeline.png", dpi=100)
    names.append("timeline.png")
    plt.close(fig)

    n = len(report["nodes"])
    matrix = [[0.0] * n for _ in range(n)]
    for key, value in report["bytes_per_link"].items():
        a, b = key.split("->")
        matrix[report["nodes"].index(a)][report["nodes"].index(b)] = value / 1e6
    fig, ax = plt.subplots(figsize=(6, 5))
    image = ax.imshow(matrix, cmap="viridis")
    ax.set_xticks(range(n), report["nodes"])
    ax.set_yticks(range(n), report["nodes"])
    ax.set_xlabel("to")
    ax.set_ylabel("from (dialler)")
    ax.set_title("MB through each link (both directions)")
    fig.colorbar(image)
    fig.tight_layout()
    fig.savefig(out / "bytes_per_link.png", dpi=100)
    names.append("bytes_per_link.png")
    plt.close(fig)
    return names
