"""Draw the PNG attachments of the three MSELs (synthetic, fictional, deterministic).

    python3 exercise/msels/make_files.py

Every image is drawn from scratch: CCTV "stills" are noise and boxes, maps and plans are
schematic sketches, not to scale. The text attachments (.md, .csv) are written by hand.
"""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patches

HERE = Path(__file__).parent
BANNER = "EXERCISE - SYNTHETIC IMAGE - FICTIONAL"


def save(fig, path: Path) -> None:
    fig.savefig(path, dpi=100, metadata={"Software": None}, pil_kwargs={"optimize": True})
    plt.close(fig)
    print(f"{path.relative_to(HERE)}: {path.stat().st_size // 1024} KB")


def cctv(path: Path, camera: str, stamp: str, boxes: list[tuple[float, float, float, float, str]], seed: int) -> None:
    """A grey 'CCTV frame': coarse noise, a corridor in perspective, figures boxed and labelled."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 4, size=(45, 80)) * 6 + 90
    fig = plt.figure(figsize=(6.4, 3.6))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(noise, cmap="gray", vmin=0, vmax=255, extent=(0, 16, 0, 9), interpolation="nearest")
    for x in (0, 3, 13, 16):  # floor and wall edges converging on a vanishing point
        ax.plot([x, 8], [0 if x in (3, 13) else 2, 5.2], color="#c8c8c8", lw=1)
    ax.add_patch(patches.Rectangle((6.6, 4.4), 2.8, 1.9, fc="#6e6e6e", ec="#d0d0d0"))  # far exit
    for x, y, w, h, label in boxes:
        ax.add_patch(patches.Ellipse((x + w / 2, y + h * 0.86), w * 0.45, h * 0.2, fc="#3a3a3a"))
        ax.add_patch(patches.FancyBboxPatch((x + w * 0.2, y), w * 0.6, h * 0.74, "round,pad=0.05", fc="#2e2e2e"))
        ax.add_patch(patches.Rectangle((x - 0.1, y - 0.1), w + 0.2, h + 0.2, fill=False, ec="#ffd400", lw=1.6))
        ax.text(x, y + h + 0.2, label, color="#ffd400", fontsize=8, family="monospace")
    ax.text(0.2, 8.5, camera, color="white", fontsize=9, family="monospace", va="top")
    ax.text(15.8, 8.5, stamp, color="white", fontsize=9, family="monospace", va="top", ha="right")
    ax.text(8, 0.3, BANNER, color="#ff5050", fontsize=8, family="monospace", ha="center")
    ax.set_xlim(0, 16)
    ax.set_ylim(0, 9)
    ax.axis("off")
    save(fig, path)


def route_map(path: Path) -> None:
    """Manhunt: the suspects' known and suspected movements on a lon/lat sketch."""
    places = {  # name: (lon, lat, label offset in points)
        "Westfield Chodov": (14.491, 50.032, (-40, 8)),
        "Pruhonice": (14.550, 49.999, (4, -12)),
        "Plzen (D5)": (13.378, 49.738, (4, 4)),
        "Furth im Wald": (12.840, 49.309, (6, 2)),
        "Cham": (12.665, 49.223, (6, -10)),
        "Regensburg Hbf": (12.100, 49.012, (6, -4)),
        "Munich": (11.576, 48.137, (6, 0)),
        "Kufstein": (12.167, 47.583, (6, 0)),
        "Brenner": (11.507, 47.005, (6, 0)),
        "Frankfurt Airport": (8.562, 50.038, (4, 6)),
        "Nachod": (16.163, 50.417, (-30, -12)),
        "Kudowa-Zdroj": (16.243, 50.443, (-40, 8)),
        "Klodzko": (16.661, 50.435, (-6, -12)),
    }
    legs = [
        (["Westfield Chodov", "Pruhonice"], "#444444", "-", "all three (vehicle 1, then switch)"),
        (["Pruhonice", "Plzen (D5)", "Furth im Wald", "Cham", "Regensburg Hbf"], "#c0392b", "-", "A + B, vehicle 2"),
        (["Regensburg Hbf", "Munich", "Kufstein", "Brenner"], "#c0392b", "--", "A, suspected (rail/road)"),
        (["Regensburg Hbf", "Frankfurt Airport"], "#2471a3", "--", "B, suspected (rail)"),
        (["Pruhonice", "Nachod", "Kudowa-Zdroj", "Klodzko"], "#1e8449", "--", "C, phone cell data"),
    ]
    fig, ax = plt.subplots(figsize=(8, 5.4))
    for names, color, style, label in legs:
        xs, ys = zip(*(places[n][:2] for n in names), strict=True)
        ax.plot(xs, ys, style, color=color, lw=2, label=label)
    for name, (x, y, offset) in places.items():
        ax.plot(x, y, "o", color="black", ms=4)
        ax.annotate(name, (x, y), xytext=offset, textcoords="offset points", fontsize=8)
    for label, x, y in [
        ("CZ", 15.3, 49.6),
        ("DE", 10.3, 49.6),
        ("AT", 13.6, 47.9),
        ("PL", 17.0, 50.9),
        ("IT", 12.6, 46.75),
    ]:
        ax.text(x, y, label, fontsize=22, color="#bbbbbb", ha="center", zorder=0)
    ax.set_xlim(8, 17.5)
    ax.set_ylim(46.6, 51.2)
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title("Known and suspected movements (schematic, not to scale, borders omitted)", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.text(0.5, 0.005, BANNER, ha="center", color="#c0392b", fontsize=8)
    save(fig, path)


def stadium_plan(path: Path) -> None:
    """Crowd: stadium, gates, fan walk from the station, bottlenecks and posts."""
    fig, ax = plt.subplots(figsize=(8, 5.4))
    ax.add_patch(patches.Rectangle((0, 0), 20, 2.2, fc="#aed6f1"))
    ax.text(1, 1, "River Meuse", fontsize=9, color="#1b4f72")
    ax.plot([0, 20], [2.6, 2.6], color="#555", lw=3)
    ax.text(15.5, 2.8, "quay road", fontsize=8)
    ax.plot([0, 20], [9.2, 9.2], color="#555", lw=2, ls=(0, (6, 3)))
    ax.text(0.3, 9.4, "railway line", fontsize=8)
    ax.add_patch(patches.Ellipse((11, 6), 7.5, 4.5, fc="#d5f5e3", ec="#1e8449", lw=2))
    ax.add_patch(patches.Rectangle((9, 5), 4, 2, fc="#82e0aa", ec="#1e8449"))
    ax.text(11, 6, "STADIUM\n(~30,000)", ha="center", va="center", fontsize=9)
    gates = {
        "Gate 1 (north)": (11, 8.45, (6, 4)),
        "Gate 2 (east)": (14.95, 6, (6, 4)),
        "Gate 3 (south)": (11, 3.55, (6, -12)),
        "Gate 4 (west)": (7.05, 6, (-66, 6)),
    }
    for name, (x, y, offset) in gates.items():
        ax.plot(x, y, "s", color="#1e8449", ms=9)
        ax.annotate(name, (x, y), xytext=offset, textcoords="offset points", fontsize=8)
    ax.annotate(
        "",
        (10.6, 8.6),
        (0.4, 4.3),
        arrowprops={"arrowstyle": "->", "color": "#c0392b", "lw": 2.5, "connectionstyle": "arc3,rad=-0.25"},
    )
    ax.text(0.3, 3.5, "fan walk from Liege-Guillemins (~3 km)", fontsize=8, color="#c0392b")
    for x, y, label in [(9.2, 8.8, "BOTTLENECK A\nrailway underpass"), (5.2, 3.0, "BOTTLENECK B\nquay narrowing")]:
        ax.add_patch(patches.Circle((x, y), 0.75, fc="#e74c3c", alpha=0.45, hatch="//"))
        ax.text(x, y - 1.3, label, ha="center", fontsize=7, color="#922b21")
    for x, y, label in [
        (16.5, 8.4, "Police CP-Ops"),
        (16.3, 4.2, "PMA (medical post)"),
        (3.4, 7.6, "Shuttle bus drop-off"),
    ]:
        ax.plot(x, y, "^", color="#2471a3", ms=9)
        ax.annotate(label, (x, y), xytext=(4, -12), textcoords="offset points", fontsize=8, color="#2471a3")
    ax.set_xlim(0, 20)
    ax.set_ylim(0, 10.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Stadium perimeter plan - final, Liege (schematic, not to scale)", fontsize=10)
    fig.text(0.5, 0.01, BANNER, ha="center", color="#c0392b", fontsize=8)
    save(fig, path)


def density_chart(path: Path) -> None:
    """Crowd: camera-analytics density at the gates and bottlenecks, 18:00-19:40."""
    t = np.arange(0, 101, 5)  # minutes after 18:00
    series = {
        "Gate 1 (north)": 1.2 + 4.6 / (1 + np.exp(-(t - 70) / 9)),
        "Bottleneck A (underpass)": 1.0 + 4.9 / (1 + np.exp(-(t - 62) / 8)),
        "Gate 3 (south)": 1.0 + 1.6 / (1 + np.exp(-(t - 60) / 15)),
        "Bottleneck B (quay)": 0.8 + 2.4 / (1 + np.exp(-(t - 75) / 12)),
    }
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name, values in series.items():
        ax.plot(t, values, marker=".", label=name)
    ax.axhspan(4, 5, color="#f5b041", alpha=0.25, label="congested (4-5 p/m2)")
    ax.axhspan(5, 7, color="#e74c3c", alpha=0.2, label="critical (>5 p/m2)")
    ax.set_xticks(range(0, 101, 20), [f"{18 + m // 60}:{m % 60:02d}" for m in range(0, 101, 20)])
    ax.set_ylim(0, 7)
    ax.set_xlabel("scenario time")
    ax.set_ylabel("persons per m2 (camera analytics)")
    ax.set_title("Crowd density at the stadium perimeter", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)
    fig.text(0.5, 0.005, BANNER, ha="center", color="#c0392b", fontsize=8)
    save(fig, path)


def station_zones(path: Path) -> None:
    """CBRNE: a terminal station in plan, hot/warm/cold zones, decon lines, sampling points."""
    fig, ax = plt.subplots(figsize=(8, 5.4))
    for i in range(12):  # platforms of the upper level, head end at the bottom
        ax.add_patch(patches.Rectangle((1 + i * 1.5, 3.5), 0.6, 6, fc="#d6dbdf", ec="#909497"))
    ax.add_patch(patches.Rectangle((0.5, 1.5), 18, 1.8, fc="#eaecee", ec="#909497"))
    ax.text(9.5, 2.4, "main concourse / entrance hall", ha="center", fontsize=8)
    ax.add_patch(patches.Rectangle((6, 4.5), 7, 2.2, fc="none", ec="#7d3c98", lw=1.5, ls="--"))
    ax.text(9.5, 6.9, "S-Bahn platforms 101-104 (below ground, dashed)", ha="center", fontsize=8, color="#7d3c98")
    for r, color, label in [(4.6, "#f9e79f", "COLD"), (3.0, "#f5b041", "WARM"), (1.4, "#e74c3c", "HOT")]:
        ax.add_patch(patches.Circle((9.5, 5.6), r, fc=color, alpha=0.35, ec=color))
        ax.text(9.5 + r * 0.72, 5.6 + r * 0.72, label, fontsize=8, fontweight="bold")
    ax.plot(9.5, 5.6, "X", color="black", ms=10)
    ax.annotate("suitcase (device)", (9.5, 5.6), xytext=(6, -14), textcoords="offset points", fontsize=8)
    for i, (x, y) in enumerate([(9.0, 6.3), (10.6, 5.0), (8.0, 4.4), (12.1, 6.8), (6.3, 7.5), (9.5, 2.0)], 1):
        ax.plot(x, y, "o", color="#1a5276", ms=6)
        ax.annotate(f"SP{i}", (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7, color="#1a5276")
    for x, label in [(15.6, "Decon line 1 (casualties)"), (17.4, "Decon line 2 (responders)")]:
        ax.add_patch(patches.Rectangle((x - 0.35, 0.2), 0.7, 4.6, fc="#85c1e9", ec="#1b4f72"))
        ax.text(x, 0.0, label, ha="center", va="top", fontsize=7, rotation=0)
    ax.annotate(
        "wind (surface) from SW\n~2 m/s", (3.2, 8.7), (1.0, 6.9), fontsize=8, arrowprops={"arrowstyle": "->", "lw": 2}
    )
    ax.plot(2.2, 0.8, "^", color="#2471a3", ms=9)
    ax.text(2.6, 0.7, "casualty collection point (cold zone)", fontsize=7, color="#2471a3")
    ax.set_xlim(0, 19)
    ax.set_ylim(-0.8, 10.5)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title("Zones and sampling points, scenario time 08:10 (schematic, not to scale)", fontsize=10)
    fig.text(0.5, 0.01, BANNER, ha="center", color="#c0392b", fontsize=8)
    save(fig, path)


if __name__ == "__main__":
    cctv(
        HERE / "manhunt/files/cctv-chodov-mall.png",
        "CAM 14  MALL L1 EAST",
        "DAY1 10:42:51",
        [(4.2, 1.0, 1.5, 3.2, "A"), (6.3, 1.6, 1.2, 2.7, "B"), (10.0, 1.2, 1.3, 2.9, "C")],
        seed=14,
    )
    cctv(
        HERE / "manhunt/files/cctv-regensburg-platform.png",
        "RAIL CAM 07  PLATFORM 4/5",
        "DAY1 12:51:07",
        [(3.4, 1.0, 1.5, 3.2, "A?"), (11.2, 1.4, 1.3, 2.9, "B?")],
        seed=7,
    )
    route_map(HERE / "manhunt/files/route-map.png")
    stadium_plan(HERE / "crowd/files/stadium-perimeter-plan.png")
    density_chart(HERE / "crowd/files/crowd-density-gates.png")
    station_zones(HERE / "cbrne/files/station-zones.png")
    cctv(
        HERE / "cbrne/files/cctv-sbahn-level.png",
        "CAM B-117  S-BAHN ACCESS",
        "DAY1 07:16:40",
        [(7.3, 1.2, 1.4, 3.0, "PERSON 1 + SUITCASE")],
        seed=117,
    )
