"""The console's map of Europe: outlines decoded from the vendored world-atlas TopoJSON."""

import itertools
import json
from pathlib import Path

import pytest

from node.console import geo

EU_MEMBERS = {
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
}  # fmt: skip
# The EEA beyond the EU, the UK, Switzerland, the Balkans, the eastern neighbours, Turkey, the Maghreb.
NEIGHBOURS = {
    "IS", "LI", "NO", "GB", "CH", "RS", "BA", "ME", "MK", "AL", "UA", "BY", "MD", "TR", "MA", "DZ", "TN",
}  # fmt: skip


@pytest.fixture(scope="module")
def europe() -> dict:
    return json.loads(geo.europe_outlines())


def by_code(europe: dict, code: str) -> dict:
    (country,) = [c for c in europe["countries"] if c["code"] == code]
    return country


def ring_contains(ring: list[list[float]], lon: float, lat: float) -> bool:
    """Ray casting: a ray east from the point crosses the ring's edges an odd number of times."""
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        if (y1 > lat) != (y2 > lat) and lon < x1 + (lat - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def country_contains(country: dict, lon: float, lat: float) -> bool:
    return any(
        ring_contains(polygon[0], lon, lat) and not any(ring_contains(hole, lon, lat) for hole in polygon[1:])
        for polygon in country["polygons"]
    )


def test_prague_lies_in_czechia(europe: dict) -> None:
    assert country_contains(by_code(europe, "CZ"), 14.43, 50.08)


def test_brussels_lies_in_belgium_and_not_in_the_netherlands(europe: dict) -> None:
    assert country_contains(by_code(europe, "BE"), 4.35, 50.85)
    assert not country_contains(by_code(europe, "NL"), 4.35, 50.85)


def test_all_27_eu_member_states_are_on_the_map_by_their_alpha_2_code(europe: dict) -> None:
    assert EU_MEMBERS - {c["code"] for c in europe["countries"]} == set()


def test_the_eea_the_uk_the_balkans_the_eastern_neighbours_and_the_maghreb_are_on_the_map(europe: dict) -> None:
    assert NEIGHBOURS - {c["code"] for c in europe["countries"]} == set()


def test_countries_are_named_as_natural_earth_names_them(europe: dict) -> None:
    assert by_code(europe, "CZ")["name"] == "Czechia"


def test_a_country_natural_earth_gives_no_iso_code_is_shown_with_a_null_code(europe: dict) -> None:
    (kosovo,) = [c for c in europe["countries"] if c["name"] == "Kosovo"]
    assert kosovo["code"] is None


def test_every_ring_is_closed_and_has_at_least_three_corners(europe: dict) -> None:
    for country in europe["countries"]:
        for polygon in country["polygons"]:
            for ring in polygon:
                assert ring[0] == ring[-1], country["name"]
                assert len(ring) >= 4, country["name"]


def test_coordinates_are_rounded_to_three_decimals_without_repeated_points(europe: dict) -> None:
    for country in europe["countries"]:
        for polygon in country["polygons"]:
            for ring in polygon:
                assert all(round(v, 3) == v for point in ring for v in point)
                assert all(a != b for a, b in itertools.pairwise(ring)), country["name"]


def test_overseas_parts_outside_the_bounds_are_left_out(europe: dict) -> None:
    # France's bounding box reaches French Guiana and Réunion; only mainland and Corsica stay.
    france = by_code(europe, "FR")
    assert all(lat > 34 for polygon in france["polygons"] for _, lat in polygon[0])
    assert "US" not in {c["code"] for c in europe["countries"]}  # the Aleutians cross 180°


def test_the_output_is_compact_json_under_600_kb_with_the_bounds_of_europe() -> None:
    data = geo.europe_outlines()
    assert len(data) < 600_000
    assert b": " not in data and b", " not in data
    assert json.loads(data)["bounds"] == {"west": -25, "south": 34, "east": 45, "north": 72}


def test_the_outlines_are_computed_once_per_process() -> None:
    assert geo.europe_outlines() is geo.europe_outlines()


TINY = {
    "type": "Topology",
    "transform": {"scale": [0.5, 0.25], "translate": [10, 50]},
    # Arc 0 runs (0,0) → (2,0) → (2,4) on the grid; arc 1 runs (0,0) → (0,4) → (2,4), so the
    # square's ring is arc 0 forwards then arc 1 backwards (~1 = -2).
    "arcs": [[[0, 0], [2, 0], [0, 4]], [[0, 0], [0, 4], [2, 0]], [[200, 0], [2, 0], [0, 2], [-2, 0], [0, -2]]],
    "objects": {
        "countries": {
            "type": "GeometryCollection",
            "geometries": [
                {"type": "Polygon", "arcs": [[0, -2]], "id": "203", "properties": {"name": "Czechia"}},
                {"type": "MultiPolygon", "arcs": [[[2]]], "properties": {"name": "Far away"}},
                {"type": "Polygon", "arcs": [[0, -2]], "properties": {"name": "Nameless"}},
            ],
        }
    },
}


def test_a_ring_with_a_reversed_arc_is_decoded_in_walking_order() -> None:
    arcs = geo.decode_arcs(TINY)
    assert geo.ring([0, -2], arcs) == [(10, 50), (11, 50), (11, 51), (10, 51), (10, 50)]


def test_a_tiny_topology_gives_exactly_the_documented_output() -> None:
    out = geo.outlines(TINY, {"west": 9, "south": 49, "east": 12, "north": 52})
    assert json.loads(json.dumps(out)) == {
        "bounds": {"west": 9, "south": 49, "east": 12, "north": 52},
        "countries": [
            {"code": "CZ", "name": "Czechia", "polygons": [[[[10, 50], [11, 50], [11, 51], [10, 51], [10, 50]]]]},
            {"code": None, "name": "Nameless", "polygons": [[[[10, 50], [11, 50], [11, 51], [10, 51], [10, 50]]]]},
        ],
    }


def test_a_ring_that_rounding_collapses_is_dropped() -> None:
    assert geo.rounded([(1.0001, 2.0), (1.0002, 2.0), (1.0003, 2.0001), (1.0001, 2.0)]) is None


def test_a_missing_atlas_file_names_the_file_and_the_fix(tmp_path: Path) -> None:
    missing = tmp_path / "countries-50m.json"
    with pytest.raises(geo.MissingAtlasError, match=r"countries-50m\.json.*pip install -e \."):
        geo.load_atlas(missing)
