"""Who is asking: a tool with the bearer token, or an operator with a console session.

Rules:
- `Authorization: Bearer <DATA_DIR/api-token>` is a local tool: it may do everything, and
  its entries name no operator. Compared in constant time.
- Otherwise the `qroc_session` cookie (HttpOnly, SameSite=Strict, Secure over TLS) names
  a session (node/operators.py). Every request that changes something (any method but
  GET, HEAD, OPTIONS) must also carry the session's CSRF token in `X-CSRF-Token`
  (compared in constant time): SameSite=Strict already keeps other sites' requests
  cookieless, the token also covers browsers and proxies that ignore it.
- A viewer's session reads only; an operator's entries carry its display name (content
  key 8), so the audit trail says which person of which OC wrote them.
- Failed logins are counted per name and per client address: past
  `login_failures_max` in `login_window_ms`, the answer is 429 with Retry-After, without
  checking the password (which would cost 64 MiB of Argon2id each).
"""

import hmac
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import trio
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from protocol import limits

from ..operators import Operator, Operators, Session
from ..views import rfc3339
from .errors import ApiError

COOKIE = "qroc_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
router = APIRouter(tags=["session"])


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: `operator` is None for a tool with the bearer token."""

    operator: Operator | None

    @property
    def display_name(self) -> str | None:
        return None if self.operator is None else self.operator.display_name

    @property
    def can_conduct(self) -> bool:
        """Exercise control: a tool with the node's token, or an operator with that role."""
        return self.operator is None or self.operator.can_conduct


class LoginThrottle:
    """Failed logins per key (a name, a client address) in the current window; bounded."""

    def __init__(self) -> None:
        self.failures: OrderedDict[str, tuple[int, int]] = OrderedDict()  # key -> (window start, count)

    def retry_after_s(self, keys: list[str], now_ms: int) -> int | None:
        """Seconds until these keys may try again, or None if they may now."""
        waits = []
        for key in keys:
            start, count = self.failures.get(key, (now_ms, 0))
            if now_ms - start < limits.login_window_ms and count >= limits.login_failures_max:
                waits.append(-(-(start + limits.login_window_ms - now_ms) // 1000))
        return max(waits) if waits else None

    def failed(self, keys: list[str], now_ms: int) -> None:
        for key in keys:
            start, count = self.failures.pop(key, (now_ms, 0))
            if now_ms - start >= limits.login_window_ms:
                start, count = now_ms, 0
            self.failures[key] = (start, count + 1)
            while len(self.failures) > limits.login_trackers_max:
                self.failures.popitem(last=False)

    def succeeded(self, name: str) -> None:
        self.failures.pop(f"name:{name}", None)


class Authenticator:
    def __init__(self, token: str, operators: Operators, now_ms: Any) -> None:
        self.token = token.encode()
        self.operators = operators
        self.now_ms = now_ms
        self.throttle = LoginThrottle()
        self.checks = trio.CapacityLimiter(limits.login_checks_concurrent_max)

    def refuse_if_throttled(self, keys: list[str]) -> None:
        wait = self.throttle.retry_after_s(keys, self.now_ms())
        if wait is not None:
            message = f"too many failed logins; try again in {wait} s"
            raise ApiError(429, "rate_limited", message, {"Retry-After": str(wait)})

    def still_valid(self, request: Request) -> bool:
        """Whether the request's principal may still read: a tool always; an operator while
        the session lasts (long-lived streams ask this again and again)."""
        principal: Principal = request.state.principal
        token = request.cookies.get(COOKIE)
        return principal.operator is None or (
            token is not None and self.operators.session(token, self.now_ms()) is not None
        )

    def principal(self, request: Request) -> Principal:
        """The request's principal, or ApiError 401/403; also checks CSRF and the role."""
        header = request.headers.get("authorization")
        if header is not None:
            scheme, _, given = header.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), self.token):
                raise ApiError(401, "unauthorized", "missing or wrong bearer token (see DATA_DIR/api-token)")
            return Principal(None)
        session = self.session(request)
        if request.method not in SAFE_METHODS:
            check_csrf(request, session)
            if not session.operator.can_write:
                raise ApiError(403, "forbidden", f"operator {session.operator.name!r} is a viewer: reading only")
        return Principal(session.operator)

    def session(self, request: Request) -> Session:
        token = request.cookies.get(COOKIE)
        if token is None:
            raise ApiError(401, "unauthorized", "log in, or send the bearer token (see DATA_DIR/api-token)")
        session = self.operators.session(token, self.now_ms())
        if session is None:
            raise ApiError(401, "session_expired", "the session has ended; log in again")
        return session


def check_csrf(request: Request, session: Session) -> None:
    given = request.headers.get("x-csrf-token", "")
    if not hmac.compare_digest(given.encode(), session.csrf.encode()):
        raise ApiError(403, "csrf_failed", "this request lacks the session's X-CSRF-Token header")


def authenticator(request: Request) -> Authenticator:
    return request.app.state.auth  # type: ignore[no-any-return]


class Login(BaseModel):
    name: str = Field(max_length=limits.operator_chars_max)
    password: str = Field(max_length=limits.password_chars_max)


class OperatorOut(BaseModel):
    name: str
    display_name: str
    role: str


class NodeIdentity(BaseModel):
    name: str
    country: str
    peer_id: str


class SessionOut(BaseModel):
    operator: OperatorOut
    csrf_token: str
    expires_at: str
    node: NodeIdentity


def _session_json(request: Request, session: Session) -> dict[str, Any]:
    node = request.app.state.node
    operator = session.operator
    return {
        "operator": {"name": operator.name, "display_name": operator.display_name, "role": operator.role.value},
        "csrf_token": session.csrf,
        "expires_at": rfc3339(session.expires_ms),
        "node": {"name": node.member.name, "country": node.member.country, "peer_id": node.peer_id},
    }


@router.get("/v1/session", response_model=SessionOut)
async def current(request: Request) -> dict[str, Any]:
    """The console's session: who is logged in and the CSRF token for writes."""
    return _session_json(request, authenticator(request).session(request))


@router.post("/v1/session", response_model=SessionOut)
async def login(payload: Login, request: Request, response: Response) -> dict[str, Any]:
    """Log in; sets the session cookie. 401 for a wrong name or password (which one is
    not said), 429 after repeated failures."""
    auth = authenticator(request)
    address = request.client.host if request.client else "unknown"
    keys = [f"name:{payload.name}", f"address:{address}"]
    auth.refuse_if_throttled(keys)
    if auth.checks.statistics().tasks_waiting >= limits.login_checks_waiting_max:
        raise ApiError(429, "rate_limited", "too many logins at once; try again in 1 s", {"Retry-After": "1"})
    async with auth.checks:
        auth.refuse_if_throttled(keys)  # again: failures recorded while this one waited count
        candidate = auth.operators.candidate(payload.name)
        operator = await trio.to_thread.run_sync(candidate.check, payload.password)
    if operator is None:
        auth.throttle.failed(keys, auth.now_ms())
        raise ApiError(401, "bad_credentials", "wrong operator name or password")
    auth.throttle.succeeded(payload.name)
    opened = auth.operators.open_session(candidate, auth.now_ms())
    if opened is None:  # removed, or a new password, while the check ran
        raise ApiError(401, "bad_credentials", "wrong operator name or password")
    token, session = opened
    response.set_cookie(
        COOKIE,
        token,
        max_age=limits.session_ms_max // 1000,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return _session_json(request, session)


@router.delete("/v1/session", status_code=204)
async def logout(request: Request, response: Response) -> None:
    """Log out: the session ends on the node, the cookie is cleared. Needs the CSRF token."""
    auth = authenticator(request)
    if request.headers.get("authorization") is None:  # viewers too may log out, but not another site
        check_csrf(request, auth.session(request))
    token = request.cookies.get(COOKIE)
    if token is not None:
        auth.operators.close_session(token)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
