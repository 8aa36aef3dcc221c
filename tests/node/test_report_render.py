import io
import re

import matplotlib.image
import pytest

from node.reports import render
from node.reports.render import Report

PNG = b"\x89PNG\r\n\x1a\n"
T0 = 1_760_000_000_000  # STARTEX, epoch ms
MIN = 60_000
HOSTILE = "<script>alert(1)</script>"


def figures(p50: int, p99: int) -> render.Figures:
    return {"n": 2, "p50_ms": p50, "p99_ms": p99, "max_ms": p99}


def small_report() -> Report:
    """Two OCs, three injects (one skipped, one never acknowledged by IT), IT's link to FR still down."""
    return {
        "kind": "exercise",
        "exercise": {
            "name": "crowd-2025",
            "title": HOSTILE,
            "controller": "FR",
            "participants": ["FR", "IT"],
            "objectives": ["Share the first alert within 5 min", "Tom & Jerry's <b>objective</b>"],
            "startex_ms": T0,
            "endex_ms": T0 + 90 * MIN,
        },
        "incident": None,
        "generated_ms": T0 + 95 * MIN,
        "members": [{"country": "FR", "name": "Police nationale"}, {"country": "IT", "name": "Polizia di Stato"}],
        "injects": [
            {
                "id": "INJ-1",
                "title": "Crowd surge at the station",
                "kind": "alert",
                "state": "released",
                "released_ms": T0 + 12 * MIN + 30_000,
                "entry": "ab" * 32,
                "to": ["FR", "IT"],
                "expected": ["Acknowledge", "Open an incident"],
                "targets": [
                    {
                        "country": "FR",
                        "delivered_ms": T0 + 12 * MIN + 30_400,
                        "acknowledged_ms": T0 + 13 * MIN,
                        "responded_ms": T0 + 16 * MIN,
                    },
                    {
                        "country": "IT",
                        "delivered_ms": T0 + 12 * MIN + 31_200,
                        "acknowledged_ms": T0 + 14 * MIN + 5_000,
                        "responded_ms": None,
                    },
                ],
            },
            {
                "id": "INJ-$2$",  # a $ would start mathtext in a matplotlib label
                "title": "Suspicious parcel",
                "kind": "request",
                "state": "released",
                "released_ms": T0 + 40 * MIN,
                "entry": None,
                "to": ["IT"],
                "expected": [HOSTILE],
                "targets": [{"country": "IT", "delivered_ms": None, "acknowledged_ms": None, "responded_ms": None}],
            },
            {
                "id": "INJ-3",
                "title": "Never played",
                "kind": "info",
                "state": "skipped",
                "released_ms": None,
                "entry": None,
                "to": ["FR"],
                "expected": [],
                "targets": [],
            },
        ],
        "per_oc": [
            {
                "country": "FR",
                "targeted": 1,
                "delivered": 1,
                "acknowledged": 1,
                "responded": 1,
                "delivery": figures(400, 400),
                "acknowledgement": figures(30_000, 30_000),
                "response": figures(210_000, 210_000),
            },
            {
                "country": "IT",
                "targeted": 2,
                "delivered": 1,
                "acknowledged": 1,
                "responded": 0,
                "delivery": figures(1_200, 1_200),
                "acknowledgement": figures(95_000, 95_000),
                "response": None,
            },
        ],
        "unacknowledged": [{"inject": "INJ-$2$", "country": "IT"}],
        "link_failures": [{"country": "FR", "peer_country": "IT", "down_ms": T0 + 50 * MIN, "up_ms": None}],
    }


def empty_report() -> Report:
    return {
        "kind": "incident",
        "exercise": {
            "name": "",
            "title": "",
            "controller": None,
            "participants": [],
            "objectives": [],
            "startex_ms": None,
            "endex_ms": None,
        },
        "incident": {"id": "inc-1", "title": "Real incident"},
        "generated_ms": T0,
        "members": [],
        "injects": [],
        "per_oc": [],
        "unacknowledged": [],
        "link_failures": [],
    }


@pytest.fixture(scope="module")
def small_plots() -> dict[str, bytes]:
    return render.plots(small_report())


def test_plots_are_two_readable_pngs_and_deterministic(small_plots):
    assert set(small_plots) == {"timeline.png", "latency.png"}
    for data in small_plots.values():
        assert data.startswith(PNG)
        image = matplotlib.image.imread(io.BytesIO(data))
        assert image.shape[1] == 1000  # 10 in at 100 dpi
    assert render.plots(small_report()) == small_plots


def test_the_page_names_every_oc_inject_failure_and_unacknowledged_pair(small_plots):
    page = render.html(small_report(), {name: name for name in small_plots})
    for text in ("FR", "IT", "INJ-1", "INJ-$2$", "INJ-3", "still down", "EXERCISE EXERCISE EXERCISE"):
        assert text in page
    assert re.search(r"<td>IT</td><td>INJ-\$2\$</td>", page)  # the never-acknowledged pair
    assert "+00:12:30" in page  # INJ-1's release
    assert "400 ms" in page and "1.2 s" in page and "1 min 35 s" in page  # per-OC figures
    assert '<img src="timeline.png"' in page and '<img src="latency.png"' in page


def test_hostile_strings_appear_only_escaped():
    page = render.html(small_report(), {"timeline.png": 'x"><script>alert(2)</script>'})
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Tom &amp; Jerry&#x27;s &lt;b&gt;objective&lt;/b&gt;" in page


def test_an_empty_report_renders():
    report = empty_report()
    images = render.plots(report)
    assert all(data.startswith(PNG) for data in images.values())
    page = render.html(report, {})
    assert "Real incident" in page and "EXERCISE EXERCISE" not in page


def test_durations_and_offsets():
    assert render.duration(None) == "—"
    assert render.duration(1_234) == "1.2 s"
    assert render.duration(185_000) == "3 min 05 s"
    assert render.duration(7_440_000) == "2 h 04 min"
    assert render.offset(T0 + 12 * MIN + 30_999, T0) == "+00:12:30"
    assert render.offset(T0 - 61_000, T0) == "-00:01:01"
    assert render.utc(0) == "1970-01-01T00:00:00Z"
