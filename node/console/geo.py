"""Country outlines for the operator console's map of Europe.

The console must work offline, so it cannot load map tiles: it draws these outlines
itself. They come from Natural Earth (public domain) through the npm package world-atlas,
whose countries-50m.json (TopoJSON) the build fetches next to this module (see
node/console/assets.toml and _build/backend.py). Here it is decoded, cut down to Europe
and rounded, so that the browser gets one small JSON document and no decoder.

Everything but `load_atlas` is pure: no file, no network.
"""

import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pycountry

Point = tuple[float, float]  # (lon, lat) in degrees, GeoJSON order
Ring = list[Point]
Polygon = list[Ring]  # exterior ring first, then holes
Bounds = Mapping[str, float]

# What the map shows: all EU and EEA members, the UK, the Balkans, Ukraine, Belarus,
# Turkey, the Maghreb coast; western Russia, Greenland and the Caucasus come along.
EUROPE: dict[str, int] = {"west": -25, "south": 34, "east": 45, "north": 72}
ATLAS = Path(__file__).parent / "vendor" / "world-atlas" / "countries-50m.json"
DIGITS = 3  # ~100 m: finer than a console screen shows, and it keeps the JSON small


class MissingAtlasError(FileNotFoundError):
    """The vendored world-atlas file is not there: the package was not built by our backend."""


def decode_arcs(topology: Mapping[str, Any]) -> list[list[Point]]:
    """Absolute (lon, lat) positions of every arc of a TopoJSON topology."""
    transform = topology.get("transform")
    if transform is None:  # an unquantized topology stores positions as they are
        return [[(float(x), float(y)) for x, y, *_ in arc] for arc in topology["arcs"]]
    (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
    arcs = []
    for arc in topology["arcs"]:
        # Quantized arcs are delta-encoded: each position is an offset on the integer
        # grid from the previous one, and `transform` maps the grid to degrees.
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arc_indexes: Sequence[int], arcs: Sequence[Sequence[Point]]) -> Ring:
    """Join a ring's arcs; a negative index ~i means arc i walked backwards."""
    points: Ring = []
    for index in arc_indexes:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        # Each arc starts where the previous one ended: keep that shared point once.
        points.extend(arc[1:] if points else arc)
    return points


def polygons(geometry: Mapping[str, Any], arcs: Sequence[Sequence[Point]]) -> list[Polygon]:
    """The polygons of a Polygon or MultiPolygon geometry; none for any other type."""
    if geometry.get("type") == "Polygon":
        return [[ring(r, arcs) for r in geometry["arcs"]]]
    if geometry.get("type") == "MultiPolygon":
        return [[ring(r, arcs) for r in polygon] for polygon in geometry["arcs"]]
    return []


def rounded(points: Ring, digits: int = DIGITS) -> Ring | None:
    """The ring rounded, without consecutive duplicates; None if it collapsed."""
    out: Ring = []
    for lon, lat in points:
        point = (round(lon, digits), round(lat, digits))
        if not out or point != out[-1]:
            out.append(point)
    if out and out[0] != out[-1]:
        out.append(out[0])  # TopoJSON rings are closed; keep ours closed whatever the input
    # A closed ring needs 3 distinct corners; rounding shrinks specks of islands below that.
    return out if len(out) >= 4 else None


def bbox(points: Ring) -> tuple[float, float, float, float]:
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    return min(lons), min(lats), max(lons), max(lats)


def intersects(box: tuple[float, float, float, float], bounds: Bounds) -> bool:
    west, south, east, north = box
    return west <= bounds["east"] and east >= bounds["west"] and south <= bounds["north"] and north >= bounds["south"]


def alpha2(numeric: object) -> str | None:
    """ISO 3166-1 alpha-2 of a TopoJSON id (ISO numeric, e.g. "203"); None when unknown.
    Natural Earth leaves disputed areas (Kosovo, N. Cyprus, Somaliland) without one."""
    if not isinstance(numeric, str | int) or not str(numeric).isdigit():
        return None
    country = pycountry.countries.get(numeric=str(numeric).zfill(3))
    return country.alpha_2 if country is not None else None


def outlines(topology: Mapping[str, Any], bounds: Bounds = EUROPE, layer: str = "countries") -> dict[str, Any]:
    """Countries with a polygon inside `bounds`, each with only those polygons.

    The test is per polygon, not per country: the USA's bounding box spans the globe
    (the Aleutians cross 180°) and France's reaches South America, so a per-country test
    would ship Alaska, French Guiana and Réunion to a map of Europe.
    """
    arcs = decode_arcs(topology)
    countries = []
    for geometry in topology["objects"][layer]["geometries"]:
        kept = []
        for polygon in polygons(geometry, arcs):
            exterior = rounded(polygon[0]) if polygon else None
            # A polygon whose exterior collapsed has nothing left to draw, holes or not.
            if exterior is None or not intersects(bbox(exterior), bounds):
                continue
            holes = [r for r in (rounded(points) for points in polygon[1:]) if r is not None]
            kept.append([exterior, *holes])
        if kept:
            name = (geometry.get("properties") or {}).get("name")
            countries.append({"code": alpha2(geometry.get("id")), "name": name, "polygons": kept})
    countries.sort(key=lambda c: (c["name"] or "", c["code"] or ""))  # stable output across atlas orderings
    return {"bounds": dict(bounds), "countries": countries}


def load_atlas(path: Path = ATLAS) -> dict[str, Any]:
    """The vendored TopoJSON, or an error that says how to get it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MissingAtlasError(
            f"{path} is missing: it is fetched from the npm package world-atlas when the package is built "
            "(node/console/assets.toml); run `pip install -e .` in the checkout, or `python3 _build/backend.py`"
        ) from None
    return json.loads(text)


@cache
def europe_outlines() -> bytes:
    """The map's outlines as compact JSON; computed once per process (about a second)."""
    return json.dumps(outlines(load_atlas()), separators=(",", ":"), ensure_ascii=False).encode()
