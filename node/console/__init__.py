"""The operator console: a single page and its modules, served by the node at `/`.

The files in `static/` are the whole console (no third-party code; it talks to the node
only through the HTTP API under /v1). They are public: the page shows a login form first,
and every piece of data comes from the API behind a session. The map's country outlines
come from the npm package world-atlas (Natural Earth, public domain), fetched at install
time (`assets.toml`, `_build/backend.py`) and cut to Europe by `geo.py`.
"""

import hashlib
import mimetypes
from functools import cache
from importlib import resources

from fastapi import APIRouter, Request
from fastapi.responses import Response

from ..api.errors import ApiError

router = APIRouter(include_in_schema=False)
_STATIC = resources.files(__package__) / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".svg": "image/svg+xml"}


def _shipped() -> frozenset[str]:
    return frozenset(p.name for p in _STATIC.iterdir() if p.is_file()) if _STATIC.is_dir() else frozenset()


_SHIPPED = _shipped()


def _asset(name: str) -> tuple[bytes, str, str] | None:
    """(bytes, content type, ETag) of a console file, or None. Only the names shipped in
    static/ are looked up (so the cache holds at most those): nothing else is reachable."""
    return _load(name) if name in _SHIPPED else None


@cache
def _load(name: str) -> tuple[bytes, str, str]:
    data = (_STATIC / name).read_bytes()
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else ""
    kind = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind.endswith("json"):
        kind += "; charset=utf-8"
    return data, kind, _etag(data)


def _etag(data: bytes) -> str:
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


@cache
def _europe() -> tuple[bytes, str, str]:
    from .geo import europe_outlines  # reads and cuts the vendored outlines: only when asked

    data = europe_outlines()
    return data, "application/json", _etag(data)


def _send(request: Request, data: bytes, kind: str, etag: str) -> Response:
    # Revalidated on every load: an upgraded node serves its new console at once.
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=kind, headers=headers)


@router.get("/")
async def index(request: Request) -> Response:
    found = _asset("index.html")
    if found is None:
        raise ApiError(404, "not_found", "the console is not installed with this node")
    return _send(request, *found)


@router.get("/console/europe.json")
async def europe(request: Request) -> Response:
    return _send(request, *_europe())


@router.get("/console/{name}")
async def asset(name: str, request: Request) -> Response:
    found = _asset(name)
    if found is None:
        raise ApiError(404, "not_found", f"no console file {name!r}")
    return _send(request, *found)
