"""Media routes of the HTTP API: upload (streamed), download (with Range), status."""

import contextlib
import re
from collections.abc import AsyncIterator
from typing import Any

import trio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from protocol import limits
from protocol.body import FILE_NAME, Media, check_mime
from protocol.entry import Entry
from protocol.errors import BadChunk, InvalidField
from protocol.sealed import open_chunk

from ..views import media_json
from .errors import ApiError
from .models import MediaOut
from .writes import hex_id, incident_state, operator_of, write_errors

router = APIRouter(tags=["media"])
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class MediaStatus(BaseModel):
    id: str
    name: str
    mime: str
    size: int
    sha256: str
    chunks_total: int
    chunks_held: int
    complete: bool
    sources: list[str]


def _manifest(request: Request, media_id: str) -> tuple[Entry, bytes | None]:
    """The item as this member reads it, and the key of its chunks if they are sealed."""
    node = request.app.state.node
    item = node.media.readable(hex_id(media_id, "media"))
    if item is None or not item[0].shown_to(node.identity.public_key):  # sealed for, or addressed to, others
        raise ApiError(404, "not_found", f"no media {media_id}")
    return item  # type: ignore[no-any-return]


@router.post(
    "/v1/incidents/{incident_id}/media",
    status_code=201,
    response_model=MediaOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    incident_id: str,
    request: Request,
    name: str = Query(..., min_length=1, max_length=limits.file_name_chars_max, pattern=r"\S", description="File name"),
    content_type: str = Header("application/octet-stream", description="The file's MIME type"),
) -> dict[str, Any]:
    """The raw file is the body; it is streamed to disk chunk by chunk, never held whole."""
    node = request.app.state.node
    incident = hex_id(incident_id)
    state = incident_state(node, incident)
    mime = content_type.split(";")[0].strip().lower()
    try:  # the protocol's own rules, before a byte of the body is read
        FILE_NAME.check(name)
    except InvalidField as exc:
        raise ApiError(422, "invalid_field", f"name: {exc}") from None
    try:
        check_mime(mime)
    except InvalidField as exc:
        raise ApiError(422, "invalid_field", f"Content-Type: {exc}") from None
    body = _Body(request)
    try:
        with write_errors():
            entry = await node.media.upload(
                incident, name, mime, body.chunks(), state.opening.exercise, operator_of(request)
            )
    except BadChunk as exc:
        await body.drain()
        raise ApiError(413, "too_large", str(exc)) from None
    except ApiError:  # disk full, an empty file, ...: nothing was written
        await body.drain()
        raise
    return media_json(node.replica.readable(entry), complete=True)  # uploaded whole (as we read it: unsealed)


class _Body:
    """An upload's body, read as it arrives; what is left of a refused one is read and
    dropped, so that the client reads our answer: one that sends its whole body before
    reading (most do, without Expect: 100-continue) would otherwise wait for its timeout."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.complete = False

    async def chunks(self) -> AsyncIterator[bytes]:
        async for data in self.request.stream():
            yield data
        self.complete = True

    async def drain(self) -> None:
        if self.complete:
            return
        with trio.move_on_after(limits.upload_drain_ms_max / 1000), contextlib.suppress(Exception):
            while (await self.request.receive()).get("more_body", False):
                pass


@router.get("/v1/media/{media_id}/status", response_model=MediaStatus)
async def status(media_id: str, request: Request) -> dict[str, Any]:
    """How much of the item this node holds, and from whom it came. Asking starts an
    on-demand fetch when the node does not fetch this item by itself."""
    node = request.app.state.node
    manifest, _ = _manifest(request, media_id)
    media = manifest.body
    assert isinstance(media, Media)
    node.media.fetch(manifest, on_demand=True)
    held = node.media.chunks.count(media.chunks)
    return {
        **{k: v for k, v in media_json(manifest, False).items() if k in ("id", "name", "mime", "size", "sha256")},
        "chunks_total": len(media.chunks),
        "chunks_held": held,
        "complete": held == len(media.chunks),
        "sources": sorted(node.media.sources.get(manifest.id, set())),
    }


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive, or None for the whole file; ApiError 416 if unsatisfiable."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        raise ApiError(416, "range_not_satisfiable", "only one 'bytes=first-last' range is supported")
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last)) if last else size - 1
    if start > end or start >= size:
        raise ApiError(416, "range_not_satisfiable", f"range outside 0-{size - 1}")
    return start, end


@router.get(
    "/v1/media/{media_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}, 206: {"description": "Part of the file"}},
)
async def download(
    media_id: str,
    request: Request,
    range: str | None = Header(None),
    inline: bool = Query(False, description="Served to show in the page (img, video, audio), not to save"),
) -> StreamingResponse:
    """The file, once complete on this node (409 before: see /status), with Range support."""
    node = request.app.state.node
    manifest, file_key = _manifest(request, media_id)
    media = manifest.body
    assert isinstance(media, Media)
    if not node.media.complete(manifest):
        node.media.fetch(manifest, on_demand=True)
        raise ApiError(409, "incomplete", "this node does not hold the whole file yet; see /status")
    wanted = _byte_range(range, media.size)
    start, end = wanted or (0, media.size - 1)
    headers = {
        "ETag": f'"{media.sha256.hex()}"',
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start + 1),
        "Content-Disposition": f"{'inline' if inline and _showable(media.mime) else 'attachment'}; "
        f"filename*=UTF-8''{_quote(media.name)}",
        # Media come from every member: a file never runs as a page of this origin.
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    if wanted:
        headers["Content-Range"] = f"bytes {start}-{end}/{media.size}"
    return StreamingResponse(
        _read(node, media, file_key, start, end),
        status_code=206 if wanted else 200,
        media_type=media.mime,
        headers=headers,
    )


def _showable(mime: str) -> bool:
    """Types the console shows inline; SVG is left out (an image that may carry script)."""
    return mime.startswith(("image/", "video/", "audio/")) and mime != "image/svg+xml"


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


async def _read(node: Any, media: Media, file_key: bytes | None, start: int, end: int) -> AsyncIterator[bytes]:
    first, last = start // media.chunk_size, end // media.chunk_size
    for index in range(first, last + 1):
        chunk = await trio.to_thread.run_sync(_chunk, node, media.chunks[index], file_key)
        if chunk is None:
            return  # deleted under us (or sealed and damaged): a short body, as after a broken link
        base = index * media.chunk_size
        yield chunk[max(0, start - base) : end - base + 1]


def _chunk(node: Any, chunk_hash: bytes, file_key: bytes | None) -> bytes | None:
    """A stored chunk as the file holds it (opened, if sealed), in a worker thread."""
    chunk: bytes | None = node.media.chunks.get(chunk_hash)
    if chunk is None or file_key is None:
        return chunk
    try:
        return open_chunk(file_key, chunk)
    except BadChunk:
        return None
