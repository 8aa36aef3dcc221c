"""What the API's route modules share: ids from URLs, the incident a route acts on, and
writing an entry with the node's failures turned into API errors (nothing written)."""

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request

from protocol.body import Body
from protocol.entry import Entry
from protocol.errors import IdentityForked, InvalidField, NotAMember, OwnLogUnreadable, WriteRefused

from ..errors import StorageFailed
from .auth import Principal
from .errors import ApiError

_ID = re.compile(r"[0-9a-f]{64}")


def node_of(request: Request) -> Any:
    return request.app.state.node


def hex_id(value: str, what: str = "incident") -> bytes:
    """A 64-hex-digit id from a URL (incidents and media); 404 if it cannot be one."""
    if not _ID.fullmatch(value):
        raise ApiError(404, "not_found", f"{what} ids are 64 lower-case hex digits")
    return bytes.fromhex(value)


@contextmanager
def write_errors() -> Iterator[None]:
    """The node's write failures as API errors: nothing was written in any of them."""
    try:
        yield
    except (IdentityForked, OwnLogUnreadable, NotAMember) as exc:  # lasting, until the operator acts
        raise ApiError(409, exc.reason, str(exc)) from None
    except WriteRefused as exc:  # catching up, clock ahead: passes by itself or when fixed
        raise ApiError(503, exc.reason, str(exc)) from None
    except InvalidField as exc:
        raise ApiError(422, "invalid_field", str(exc)) from None
    except (StorageFailed, OSError) as exc:
        raise ApiError(507, "storage_failed", f"nothing was written: {exc}") from None


def operator_of(request: Request) -> str | None:
    """The display name of the operator making this request (None for a tool)."""
    principal: Principal = request.state.principal
    return principal.display_name


def write(request: Request, body: Callable[[], Body], exercise: str | None) -> Entry:
    """Build the body (its constructor validates it) and write it, naming the operator."""
    with write_errors():
        return node_of(request).write(body(), exercise, operator_of(request))  # type: ignore[no-any-return]


def incident_state(node: Any, incident: bytes) -> Any:
    state = node.replica.incidents.get(incident)
    if state is None or not state.visible:
        raise ApiError(404, "not_found", f"no incident {incident.hex()}")
    return state
