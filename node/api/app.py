"""The local HTTP API (v1): FastAPI on hypercorn's trio worker, inside the node's nursery.

Every error is `{"error": {"code", "message"}}` with a 4xx/5xx status; nothing changes on
error. Every route but GET /v1/health, the login and the console's static files needs
`Authorization: Bearer <DATA_DIR/api-token>` (a tool) or an operator's session cookie
with, on writes, its CSRF token (the console; node/api/auth.py). Every response carries
the console's Content-Security-Policy and the usual hardening headers.
"""

import logging
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import trio
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from hypercorn.config import Config as ServerConfig
from hypercorn.trio import serve
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from protocol import limits
from protocol.sync import entries_beyond

from .. import __version__
from ..operators import Operators
from ..views import MemberLink, author, rfc3339
from .auth import Authenticator
from .errors import ApiError, error_response
from .models import Error, Health, NodeInfo, Peer, PeerList, SyncPeer, SyncStatus

log = logging.getLogger("qroc.api")

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Error, "description": meaning}
    for status, meaning in {
        400: "Malformed request",
        401: "Missing or wrong bearer token; no session, or it has ended",
        403: "A console write without its CSRF token, or by a viewer",
        429: "Too many failed logins: wait Retry-After seconds",
        404: "Unknown resource",
        413: "Body too large",
        415: "Body is not JSON",
        416: "Range not satisfiable",
        422: "Invalid field",
        409: "Media not complete here yet; or writes refused until the operator acts (identity forked)",
        503: "Writes refused for now (catching up with our own log, clock ahead): see the message",
        507: "Storage failed; nothing was written",
    }.items()
}


_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}


def _validation_message(exc: RequestValidationError, content_type: str) -> tuple[int, str, str]:
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return 400, "malformed_json", "the body is not valid JSON"
    if tuple(first.get("loc", ())) == ("body",) and content_type and "json" not in content_type:
        return 415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json"
    where = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")  # our validators' own words
    return 422, "invalid_field", f"{where}: {message}"


def _allowed_methods(app: FastAPI, path: str) -> str:
    """The methods the OpenAPI document lists for `path` (Starlette names only one route's)."""
    for template, operations in app.openapi()["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+?\}", "[^/]+", template), path):
            return ", ".join(sorted(m.upper() for m in operations))
    return ""


class BodyLimit:
    """ASGI middleware: refuse bodies over `api_body_bytes_max` (413) before reading them."""

    def __init__(self, app: Any, bytes_max: Callable[[str], int]) -> None:
        self.app = app
        self.bytes_max = bytes_max

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.bytes_max(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return await error_response(413, "too_large", f"body over {limit} bytes")(scope, receive, send)
        seen = 0

        async def limited() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError(413, "too_large", f"body over {limit} bytes")
            return message  # type: ignore[no-any-return]

        return await self.app(scope, limited, send)


# The console is same-origin only: no inline script or style, nothing from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), geolocation=(), microphone=(self)"),
]


class SecurityHeaders:
    """ASGI middleware: the hardening headers on every response, errors included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        return await self.app(scope, receive, with_headers)


# Methods that may write: their response waits until what they wrote is on disk.
_READS = frozenset({"GET", "HEAD", "OPTIONS"})


class Acknowledged:
    """ASGI middleware: a write's response starts only once its commit is durable (group
    commit, node/commit.py: the fsync it waits for is shared with every write waiting with
    it); and each request's latency by route and status, in the metrics."""

    def __init__(self, app: ASGIApp, node: Any) -> None:
        self.app = app
        self.node = node

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = "500"
        writes = scope["method"] not in _READS

        async def acknowledged(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = str(message["status"])
                if writes:
                    await self.node.commit.durable()
            await send(message)

        try:
            await self.app(scope, receive, acknowledged)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.node.metrics.api_latency.labels(scope["method"], path, status).observe(time.perf_counter() - started)


class Compressed:
    """ASGI middleware: gzip for JSON and the console's files when the client accepts it
    (the board's 5,000 incidents are megabytes of JSON), never for media: their bytes are
    served as stored, so Range requests and Content-Length mean what they say."""

    def __init__(self, app: ASGIApp) -> None:
        self.plain = app
        # Level 1: the board's JSON shrinks about eightfold and, unlike level 6, costs no time
        # on loopback (bench_console: 5,050 incidents settle in 1.03 s, as uncompressed).
        self.gzipped = GZipMiddleware(app, minimum_size=limits.api_gzip_bytes_min, compresslevel=1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Nor live events: a gzip stream is buffered, and the board would wait for it.
        raw = scope["type"] == "http" and scope["path"].startswith(("/v1/media/", "/v1/events"))
        return await (self.plain if raw else self.gzipped)(scope, receive, send)


def create_app(node: Any, operators: Operators) -> FastAPI:
    auth = Authenticator(node.datadir.token(), operators, node.now_ms)

    async def authorised(request: Request) -> None:
        request.state.principal = auth.principal(request)

    app = FastAPI(
        title="QROC Mesh node API",
        version=__version__,
        description="Local API of one OC's node: incidents, comments, media, live events, mesh status.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        responses=ERRORS,
    )
    app.state.node = node
    app.state.auth = auth
    guard = [Depends(authorised)]

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = getattr(exc, "code", _CODES.get(exc.status_code, "error"))
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(app, request.url.path)
        if exc.status_code == 401:
            headers["WWW-Authenticate"] = "Bearer"
        return error_response(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        node.metrics.internal_errors.labels("api").inc()
        log.error("API request failed", exc_info=exc, extra={"method": request.method, "path": request.url.path})
        return error_response(500, "internal", "the node failed to handle this request; see its log")

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(*_validation_message(exc, request.headers.get("content-type", "")))

    @app.get("/openapi.json", include_in_schema=False, dependencies=guard)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/v1/health", response_model=Health, tags=["node"])
    async def health() -> dict[str, Any]:
        refused = node.write_refusal()
        return {
            "status": "ok",
            "version": __version__,
            "peer_id": node.peer_id,
            "writable": refused is None,
            "write_refused": None if refused is None else {"code": refused.reason, "message": str(refused)},
            "peers_connected": len(node.connected),
        }

    @app.get("/v1/node", response_model=NodeInfo, dependencies=guard, tags=["node"])
    async def node_info() -> dict[str, Any]:
        card = node.member.card()
        return {
            **{k: card[k] for k in ("name", "country", "peer_id", "public_key", "addrs")},
            "version": __version__,
            "counts": node.views().counts(),
            "writable": node.writable,
            "pending_entries": node.replica.log.pending_count(),
        }

    def others() -> Iterator[tuple[MemberLink, tuple[dict[str, int], dict[str, int]] | None]]:
        """Each other member, with (what we lack, what it lacks) as of our last sync with it."""
        ours = node.replica.log.heads()
        for link in node.member_links():
            if link.heads is None:
                yield link, None
            else:
                hexed = [
                    {a.hex(): n for a, n in d.items()}
                    for d in (entries_beyond(link.heads, ours), entries_beyond(ours, link.heads))
                ]
                yield link, (hexed[0], hexed[1])

    def standing_json(node: Any, peer: str) -> dict[str, Any]:
        standing = node.budgets.standing(peer)
        banned = node.budgets.banned(peer, node.now_ms())
        return {
            "throttled": standing.throttled,
            "offences": standing.offences,
            "banned_until": rfc3339(standing.banned_until_ms) if banned else None,
        }

    @app.get("/v1/peers", response_model=PeerList, dependencies=guard, tags=["mesh"])
    async def peers() -> dict[str, Any]:
        out = [
            Peer(
                name=link.member.name,
                country=link.member.country,
                peer_id=link.member.peer_id,
                connected=link.connected,
                last_seen=None if link.last_seen_ms is None else rfc3339(link.last_seen_ms),
                behind=None if diff is None else sum(diff[1].values()),
                ahead=None if diff is None else sum(diff[0].values()),
                media_in_flight=0 if node.media is None else node.media.in_flight(link.member.peer_id),
                **standing_json(node, link.member.peer_id),
            )
            for link, diff in others()
        ]
        return {"peers": out}

    @app.get("/v1/sync", response_model=SyncStatus, dependencies=guard, tags=["mesh"])
    async def sync_status() -> dict[str, Any]:
        log = node.replica.log
        forked = {proof.author for proof in log.proofs()}  # listed even with nothing canonical left
        heads = []
        for a in sorted(set(log.heads()) | forked):
            seq, head_id = log.head(a)
            heads.append(
                {
                    "author": author(node.roster, a),
                    "seq": seq,
                    "id": None if head_id is None else head_id.hex(),
                    "fork_seq": log.fork_seq(a),
                }
            )
        peers_out = [
            SyncPeer(
                peer_id=link.member.peer_id,
                name=link.member.name,
                connected=link.connected,
                we_lack=None if diff is None else diff[0],
                they_lack=None if diff is None else diff[1],
            )
            for link, diff in others()
        ]
        return {"heads": heads, "pending_entries": node.replica.log.pending_count(), "peers": peers_out}

    @app.get("/metrics", dependencies=guard, tags=["node"], response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(node.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    from ..console import router as console
    from .assessment import router as assessment
    from .auth import router as session
    from .exercises import router as exercises
    from .governance import router as governance
    from .incidents import router as incidents
    from .media import router as media
    from .standards import router as standards

    app.include_router(session)
    app.include_router(incidents, dependencies=guard)
    app.include_router(media, dependencies=guard)
    app.include_router(exercises, dependencies=guard)
    app.include_router(assessment, dependencies=guard)
    app.include_router(governance, dependencies=guard)
    app.include_router(standards, dependencies=guard)
    app.include_router(console)
    return app  # type: ignore[no-any-return]


async def serve_api(node: Any, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
    def body_bytes_max(path: str) -> int:
        if path.endswith("/media"):
            return limits.media_bytes_max
        if path.startswith("/v1/import/"):
            return limits.xml_bytes_max
        return limits.msel_upload_bytes_max if path == "/v1/conduct" else limits.api_body_bytes_max

    operators = Operators(node.datadir.operators_path)
    try:
        app = SecurityHeaders(Compressed(BodyLimit(Acknowledged(create_app(node, operators), node), body_bytes_max)))
        config = ServerConfig()
        config.bind = [f"{node.config.api_host}:{node.config.api_port}"]
        config.accesslog = None
        config.errorlog = None
        config.graceful_timeout = limits.api_shutdown_ms_max / 1000
        config.keep_alive_timeout = limits.api_keep_alive_ms / 1000
        if node.config.tls_cert:
            config.certfile, config.keyfile = node.config.tls_cert, node.config.tls_key
        await serve(app, config, shutdown_trigger=trio.sleep_forever, task_status=task_status)  # type: ignore[arg-type]
    finally:
        operators.close()
