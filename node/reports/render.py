"""Rendering of an after-action report (the dict exercise/report.py builds, typed there) into PNG plots and a standalone
HTML page. Owns the formatting of times and durations, the two plots
(timeline.png, latency.png) and the page; it computes no figures of its own beyond the raw per-target
delays the latency plot scatters. Every string in a report comes from other members or from MSEL files:
the page escapes all of it, and the plots never let matplotlib parse it as mathtext."""

import html as _html
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from exercise.report import Figures, Report

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


NONE = "—"
WIDTH_IN, DPI = 10.0, 100
Mark = tuple[Literal["delivered_ms", "acknowledged_ms", "responded_ms"], str, str, str, int]
# per target of an inject on the timeline: what, legend, marker, colour, size
MARKS: tuple[Mark, ...] = (
    ("delivered_ms", "delivered", "o", "tab:blue", 3),
    ("acknowledged_ms", "acknowledged", "s", "tab:green", 6),
    ("responded_ms", "first response", "*", "tab:orange", 9),
)
LABEL_MAX = 24  # longer ids are cut in the plots (the page shows them whole)


# -- formatting --------------------------------------------------------------------------------------------------


def duration(ms: int | None) -> str:
    """'350 ms', '1.2 s', '3 min 05 s', '2 h 04 min'; '—' for none."""
    if ms is None:
        return NONE
    if abs(ms) < 1000:
        return f"{ms} ms"
    if abs(ms) < 60_000:
        return f"{ms / 1000:.1f} s"
    sign, s = ("-" if ms < 0 else ""), abs(ms) // 1000
    if s < 3600:
        return f"{sign}{s // 60} min {s % 60:02d} s"
    return f"{sign}{s // 3600} h {s % 3600 // 60:02d} min"


def offset(ms: int | None, origin: int) -> str:
    """'+00:12:30' from the origin (STARTEX, or the first release); '—' for none."""
    if ms is None:
        return NONE
    sign, s = ("-" if ms < origin else "+"), abs(ms - origin) // 1000
    return f"{sign}{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def utc(ms: int | None) -> str:
    if ms is None:
        return NONE
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def origin(report: Report) -> int:
    """Time zero of the offsets and the timeline: STARTEX, else the first release (an incident report has no
    STARTEX), else the first link failure, else the report's own time (nothing happened at all)."""
    startex = report["exercise"]["startex_ms"]
    if startex is not None:
        return startex
    candidates = [i["released_ms"] for i in report["injects"] if i["released_ms"] is not None]
    candidates = candidates or [f["down_ms"] for f in report["link_failures"]]
    return min(candidates, default=report["generated_ms"])


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def countries(report: Report) -> list[str]:
    """Every OC the report names, in a stable order: its per-OC figures first, then anyone else seen."""
    return _unique(
        [p["country"] for p in report["per_oc"]]
        + [m["country"] for m in report["members"]]
        + report["exercise"]["participants"]
        + [t["country"] for i in report["injects"] for t in i["targets"]]
        + [f["peer_country"] for f in report["link_failures"]]
        + [f["country"] for f in report["link_failures"]]
    )


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_MAX else text[: LABEL_MAX - 1] + "…"


# -- plots -------------------------------------------------------------------------------------------------------


def plots(report: Report) -> dict[str, bytes]:
    """PNG files by name: timeline.png and latency.png. Same report in, same bytes out."""
    return {"timeline.png": _png(_timeline(report)), "latency.png": _png(_latency(report))}


def _figure(height_in: float) -> "Figure":
    # matplotlib is imported here, not at the top: the node imports this module at start-up. Figure and the Agg
    # canvas, never pyplot: no global figure registry, so reports may render on several threads at once.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(WIDTH_IN, height_in), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: "Figure") -> bytes:
    fig.tight_layout()
    out = io.BytesIO()
    # Software: None drops the only varying metadata (the matplotlib version); Agg writes no timestamp.
    fig.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def _note(ax: "Axes", text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color="grey", parse_math=False)


def _timeline(report: Report) -> "Figure":
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    zero = origin(report)
    exercise = report["exercise"]
    rows = countries(report)
    row = {c: i + 1 for i, c in enumerate(rows)}  # row 0, at the top, carries the injects

    def minutes(ms: int) -> float:
        return (ms - zero) / 60_000

    fig = _figure(max(3.0, 1.4 + 0.45 * (len(rows) + 1)))
    ax = fig.add_subplot()
    xs: list[float] = [0.0]
    released = [i for i in report["injects"] if i["released_ms"] is not None]
    for k, inject in enumerate(released):
        assert inject["released_ms"] is not None
        x = minutes(inject["released_ms"])
        xs.append(x)
        ax.plot([x], [0], marker="v", color="black", ms=7, ls="none")
        # labels alternate height so that injects released close together stay readable
        ax.text(x, -0.25 - 0.3 * (k % 2), _cut(inject["id"]), fontsize=7, ha="center", va="bottom", parse_math=False)
        for target in inject["targets"]:
            y = row[target["country"]]
            for key, _, marker, colour, size in MARKS:
                at = target[key]
                if at is not None:
                    xs.append(minutes(at))
                    ax.plot([minutes(at)], [y], marker=marker, color=colour, ms=size, ls="none", alpha=0.85)
    ends = [exercise["endex_ms"]] if exercise["endex_ms"] is not None else []
    for failure in report["link_failures"]:
        # a link still down is drawn to ENDEX (or to the report's time), hatched to tell it from a closed one
        still = failure["up_ms"] is None
        up = (
            failure["up_ms"] if failure["up_ms"] is not None else max(failure["down_ms"], *ends, report["generated_ms"])
        )
        y, x0, x1 = row[failure["peer_country"]], minutes(failure["down_ms"]), minutes(up)
        xs += [x0, x1]
        ax.fill_betweenx([y - 0.35, y + 0.35], x0, x1, color="tab:red", alpha=0.2, hatch="//" if still else None, lw=0)
        ax.text(x0, y - 0.38, f"lost by {_cut(failure['country'])}", fontsize=6, color="tab:red", parse_math=False)
    if exercise["startex_ms"] is not None:
        ax.axvline(0, color="black", lw=1, ls="--")
    if exercise["endex_ms"] is not None:
        ax.axvline(minutes(exercise["endex_ms"]), color="black", lw=1, ls=":")
        xs.append(minutes(exercise["endex_ms"]))
    if not released and not report["link_failures"]:
        _note(ax, "no injects released, no link failures")
    low, high = min(xs), max(xs)
    pad = max(0.05, (high - low) * 0.04)  # minutes: a compressed (simulated) hour spans one
    ax.set_xlim(low - pad, high + pad)
    ax.set_ylim(len(rows) + 0.7, -1.0)
    ax.set_yticks(range(len(rows) + 1), ["injects", *(_cut(c) for c in rows)], parse_math=False)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlabel(f"minutes since {'STARTEX' if exercise['startex_ms'] is not None else 'time 0'}, {utc(zero)}")
    ax.set_title("Injects, deliveries, acknowledgements and responses per OC")
    handles = [
        Line2D([], [], marker="v", color="black", ls="none", label="inject released"),
        *(Line2D([], [], marker=m, color=c, ms=size, ls="none", label=label) for _, label, m, c, size in MARKS),
        Patch(color="tab:red", alpha=0.2, label="link down (hatched: still down)"),
        Line2D([], [], color="black", ls="--", label="STARTEX"),
        Line2D([], [], color="black", ls=":", label="ENDEX"),
    ]
    # the legend sits outside the axes so that it never hides a marker
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


def _delays(report: Report) -> dict[str, tuple[list[int], list[int]]]:
    """(to delivery, to acknowledgement) in ms after release, per OC. A negative delay (skewed clocks across OCs)
    is kept as 0: the plot shows the order of magnitude, the tables the report's own figures."""
    out: dict[str, tuple[list[int], list[int]]] = {c: ([], []) for c in countries(report)}
    for inject in report["injects"]:
        released = inject["released_ms"]
        if released is None:
            continue
        for target in inject["targets"]:
            delivered, acked = out[target["country"]]
            if target["delivered_ms"] is not None:
                delivered.append(max(0, target["delivered_ms"] - released))
            if target["acknowledged_ms"] is not None:
                acked.append(max(0, target["acknowledged_ms"] - released))
    return out


def _latency(report: Report) -> "Figure":
    from matplotlib.lines import Line2D

    delays = _delays(report)
    names = list(delays)
    fig = _figure(4.5)
    ax = fig.add_subplot()
    every = [v for pair in delays.values() for series in pair for v in series]
    # log scale once the spread passes two decades; 1 ms is the floor so that 0 has a place on it
    log = bool(every) and max(every) >= 100 * max(1, min(every))
    for i, name in enumerate(names):
        for series, shift, colour in zip(delays[name], (-0.18, 0.18), ("tab:blue", "tab:green"), strict=True):
            if not series:
                continue
            seconds = [max(v, 1) / 1000 if log else v / 1000 for v in series]
            props = {f"{part}props": {"color": colour} for part in ("box", "median", "whisker", "cap")}
            ax.boxplot([seconds], positions=[i + shift], widths=0.28, showfliers=False, manage_ticks=False, **props)
            # golden-ratio jitter: spread like random points, yet the same every time
            jitter = [((k * 0.618034) % 1 - 0.5) * 0.2 for k in range(len(seconds))]
            ax.scatter([i + shift + j for j in jitter], seconds, s=18, color=colour, alpha=0.7, lw=0)
    if log:
        ax.set_yscale("log")
    if not every:
        _note(ax, "nothing delivered or acknowledged")
    ax.set_xticks(range(len(names)), [_cut(n) for n in names], parse_math=False)
    ax.set_xlim(-0.6, max(len(names), 1) - 0.4)
    ax.set_xlabel("OC")
    ax.set_ylabel("seconds after release" + (" (log)" if log else ""))
    ax.set_title("Time to delivery and to acknowledgement per OC")
    ax.grid(axis="y", alpha=0.3)
    handles = [
        Line2D([], [], marker="o", color="tab:blue", ls="none", label="to delivery"),
        Line2D([], [], marker="o", color="tab:green", ls="none", label="to acknowledgement"),
    ]
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return fig


# -- page --------------------------------------------------------------------------------------------------------

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; padding: 0 1em; color: #111; }
.banner { background: #b00; color: #fff; font-weight: bold; text-align: center; letter-spacing: .2em; padding: .4em; }
h1 { margin-bottom: .2em; } h2 { border-bottom: 1px solid #999; margin-top: 1.6em; }
table { border-collapse: collapse; margin: .5em 0; } th, td { border: 1px solid #bbb; padding: .2em .5em; }
th { background: #eee; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: max-content auto; gap: .1em 1em; } dt { font-weight: bold; }
ul { margin: 0; padding-left: 1.2em; } .muted { color: #666; } img { max-width: 100%; }
figure { margin: 1em 0; break-inside: avoid; }
@media print { body { margin: 0; max-width: none; font-size: 11px; } .banner { print-color-adjust: exact; }
  tr, figure { break-inside: avoid; } h2 { break-after: avoid; } }
"""
# defence in depth beside the escaping: nothing in the page may run or fetch anything but its own images
CSP = "default-src 'none'; img-src 'self' data: file:; style-src 'unsafe-inline'"


def e(value: object) -> str:
    return _html.escape(str(value), quote=True)


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()) -> str:
    """A table from already escaped cells; numeric holds the indexes of the columns aligned right."""
    cells = [
        "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>" for i, c in enumerate(r)) for r in rows
    ]
    if not cells:
        return '<p class="muted">None.</p>'
    head_html = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join(f"<tr>{c}</tr>" for c in cells)
    return f"<table><thead><tr>{head_html}</tr></thead><tbody>{body}</tbody></table>"


def _list(items: Sequence[str], none: str = "None.") -> str:
    if not items:
        return f'<span class="muted">{e(none)}</span>'
    return "<ul>" + "".join(f"<li>{e(i)}</li>" for i in items) + "</ul>"


def _header(report: Report) -> str:
    exercise, incident = report["exercise"], report["incident"]
    names = {m["country"]: m["name"] for m in report["members"]}
    if incident is not None:
        title, kind = incident["title"] or incident["id"], f"Incident report — {incident['id']}"
    else:
        title, kind = exercise["title"] or exercise["name"], f"Exercise report — {exercise['name']}"
    participants = ", ".join(f"{c} ({names[c]})" if c in names else c for c in exercise["participants"])
    facts = [
        ("Controller", exercise["controller"] or NONE),
        ("Participants", participants or NONE),
        ("STARTEX", utc(exercise["startex_ms"])),
        ("ENDEX", utc(exercise["endex_ms"])),
        ("Generated", utc(report["generated_ms"])),
    ]
    banner = '<div class="banner">EXERCISE EXERCISE EXERCISE</div>' if report["kind"] == "exercise" else ""
    dl = "".join(f"<dt>{e(k)}</dt><dd>{e(v)}</dd>" for k, v in facts)
    return f'{banner}<h1>{e(title)}</h1><p class="muted">{e(kind)}</p><dl>{dl}</dl>'


def _per_oc(report: Report) -> str:
    def p(figures: Figures | None, key: Literal["p50_ms", "p99_ms"]) -> str:
        return e(duration(figures[key] if figures else None))

    rows = [
        [e(o["country"]), e(o["targeted"]), e(o["delivered"]), e(o["acknowledged"]), e(o["responded"]),
         p(o["delivery"], "p50_ms"), p(o["delivery"], "p99_ms"), p(o["acknowledgement"], "p50_ms"),
         p(o["acknowledgement"], "p99_ms"), p(o["response"], "p50_ms")]
        for o in report["per_oc"]
    ]  # fmt: skip
    head = ["OC", "injects targeted", "delivered", "acknowledged", "responded", "delivery p50", "delivery p99",
            "ack p50", "ack p99", "response p50"]  # fmt: skip
    return _table(head, rows, numeric=range(1, 10))


def _injects(report: Report, zero: int) -> str:
    rows = []
    for inject in report["injects"]:

        def at(ms: int | None, released: int | None = inject["released_ms"]) -> str:
            # the offset, and in brackets how long after the release: the delay is what the exercise measures
            after = f" ({duration(ms - released)})" if ms is not None and released is not None else ""
            return e(offset(ms, zero) + after)

        targets = "".join(
            f"<li>{e(t['country'])}: delivered {at(t['delivered_ms'])}, ack {at(t['acknowledged_ms'])}, "
            f"response {at(t['responded_ms'])}</li>"
            for t in inject["targets"]
        )
        # not released: whom it was meant for
        to = "" if inject["targets"] else f'<span class="muted">meant for</span> {e(", ".join(inject["to"]) or NONE)}'

        released = e(offset(inject["released_ms"], zero)) if inject["state"] == "released" else e(inject["state"])
        cells = [e(inject["id"]), e(inject["title"]), e(inject["kind"]), released,
                 f"<ul>{targets}</ul>" if targets else to, _list(inject["expected"], NONE)]  # fmt: skip
        rows.append(cells)
    return _table(["id", "title", "kind", "released", "targets", "expected actions"], rows)


def _unacknowledged(report: Report) -> str:
    by_oc: dict[str, list[str]] = {}
    for u in report["unacknowledged"]:
        by_oc.setdefault(u["country"], []).append(u["inject"])
    return _table(["OC", "injects never acknowledged"], ([e(c), e(", ".join(i))] for c, i in by_oc.items()))


def _link_failures(report: Report, zero: int) -> str:
    rows = []
    for f in report["link_failures"]:
        down = f'{e(offset(f["down_ms"], zero))} <span class="muted">{e(utc(f["down_ms"]))}</span>'
        if f["up_ms"] is None:
            up = "still down"
            lasted = f"≥ {duration(max(0, report['generated_ms'] - f['down_ms']))} (to the report)"
        else:
            up = f"{offset(f['up_ms'], zero)} {utc(f['up_ms'])}"
            lasted = duration(f["up_ms"] - f["down_ms"])
        rows.append([e(f["country"]), e(f["peer_country"]), down, e(up), e(lasted)])
    return _table(["OC", "peer", "down at", "up at", "duration"], rows)


def html(report: Report, images: Mapping[str, str]) -> str:
    """The complete standalone page. images maps plot names (timeline.png, latency.png) to the src to use: a file
    name beside the page, or a data: URI for a single file. Plots missing from images are left out."""
    zero = origin(report)
    exercise = report["exercise"]
    since = "STARTEX" if exercise["startex_ms"] is not None else "the first release"
    captions = {"timeline.png": "Timeline", "latency.png": "Delivery and acknowledgement delays"}
    ordered = [n for n in captions if n in images] + sorted(n for n in images if n not in captions)
    figures = "".join(
        f'<figure><img src="{e(images[n])}" alt="{e(captions.get(n, n))}"><figcaption>{e(captions.get(n, n))}'
        "</figcaption></figure>"
        for n in ordered
    )
    title = report["incident"]["title"] if report["incident"] else exercise["title"] or exercise["name"]
    body = [
        _header(report),
        "<h2>Objectives</h2>",
        _list(exercise["objectives"], "None stated."),
        "<h2>Summary per OC</h2>",
        _per_oc(report),
        "<h2>Injects</h2>",
        f'<p class="muted">Times are offsets from {e(since)} ({e(utc(zero))}), hh:mm:ss.</p>',
        _injects(report, zero),
        "<h2>Injects never acknowledged</h2>",
        _unacknowledged(report),
        "<h2>Link failures</h2>",
        _link_failures(report, zero),
        "<h2>Plots</h2>",
        figures or '<p class="muted">None.</p>',
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} — after-action report</title><style>{STYLE}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
