"""Local operator accounts and their console sessions: DATA_DIR/operators.db (mode 0600).

The duty officers of one OC log in to their own node's console. Accounts never leave the
node (they are not replicated: each OC manages its own staff), and are kept apart from
the replicated store so that a copy of node.db carries no password hashes.

Rules:
- Passwords are hashed with Argon2id (libsodium through PyNaCl), at libsodium's
  "interactive" cost (64 MiB, 2 passes): memory-hard, so a stolen file is slow to attack.
- A session is a random 256-bit token in an HttpOnly cookie; the database keeps only its
  SHA-256, so reading the file does not let anyone in. Each session has its own CSRF
  token. A session ends at logout, after `session_idle_ms_max` without a request, after
  `session_ms_max` whatever happens, and when its operator is removed or disabled.
- Roles: `operator` reads and writes; `controller` also conducts exercises (loads MSELs,
  starts, pauses, ends, publishes and skips injects); `viewer` only reads.
"""

import functools
import hashlib
import os
import re
import secrets
import sqlite3
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import nacl.exceptions
import nacl.pwhash

from protocol import limits
from protocol.entry import OPERATOR
from protocol.errors import InvalidField

# Login names are typed at a login prompt and appear in logs: plain and unambiguous.
_LOGIN_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS operators (
    name TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    hash BLOB NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash BLOB PRIMARY KEY,
    name TEXT NOT NULL REFERENCES operators(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    last_ms INTEGER NOT NULL
);
"""


@functools.cache
def _decoy() -> bytes:
    """Verifying an unknown name costs as much as a known one, so timing does not tell which
    names exist: this hash of a random password stands in. Made at the first login, not at
    import (an Argon2id hash is a tenth of a second of every start-up otherwise)."""
    return nacl.pwhash.argon2id.str(secrets.token_bytes(16))


class Role(StrEnum):
    OPERATOR = "operator"
    CONTROLLER = "controller"
    VIEWER = "viewer"


class OperatorError(Exception):
    """An account change that cannot be made (the message says why); nothing changed."""


@dataclass(frozen=True, slots=True)
class Operator:
    name: str
    display_name: str
    role: Role

    @property
    def can_write(self) -> bool:
        return self.role in (Role.OPERATOR, Role.CONTROLLER)

    @property
    def can_conduct(self) -> bool:
        return self.role is Role.CONTROLLER


@dataclass(frozen=True, slots=True)
class Session:
    operator: Operator
    csrf: str
    expires_ms: int


@dataclass(frozen=True, slots=True)
class Candidate:
    operator: Operator | None  # None: no such name (the decoy hash is checked all the same)
    hashed: bytes

    def check(self, password: str) -> Operator | None:
        try:
            nacl.pwhash.argon2id.verify(self.hashed, password.encode()[: limits.password_chars_max * 4])
        except nacl.exceptions.InvalidkeyError:
            return None
        return self.operator


def check_password(password: str) -> bytes:
    if len(password) < limits.password_chars_min:
        raise OperatorError(f"a password needs at least {limits.password_chars_min} characters")
    if len(password) > limits.password_chars_max:
        raise OperatorError(f"a password has at most {limits.password_chars_max} characters")
    return password.encode()


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Operators:
    def __init__(self, path: Path) -> None:
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    # --- accounts (the `qroc operator` commands) ---

    def add(self, name: str, display_name: str, role: Role, password: str, now_ms: int) -> Operator:
        if len(name) > limits.operator_chars_max or not _LOGIN_NAME.fullmatch(name):
            raise OperatorError(
                f"an operator name is 1-{limits.operator_chars_max} of a-z 0-9 . _ - (starting with a letter or digit)"
            )
        try:
            OPERATOR.check(display_name)
        except InvalidField as exc:
            raise OperatorError(str(exc)) from None
        hashed = nacl.pwhash.argon2id.str(check_password(password))
        try:
            self.db.execute(
                "INSERT INTO operators VALUES (?, ?, ?, ?, ?)", (name, display_name, role.value, hashed, now_ms)
            )
        except sqlite3.IntegrityError:
            raise OperatorError(f"operator {name!r} exists already") from None
        return Operator(name, display_name, role)

    def set_password(self, name: str, password: str) -> None:
        hashed = nacl.pwhash.argon2id.str(check_password(password))
        with self.db:
            self.db.execute("BEGIN")
            if self.db.execute("UPDATE operators SET hash = ? WHERE name = ?", (hashed, name)).rowcount != 1:
                raise OperatorError(f"no operator {name!r}")
            self.db.execute("DELETE FROM sessions WHERE name = ?", (name,))  # a new password ends old sessions

    def remove(self, name: str) -> None:
        if self.db.execute("DELETE FROM operators WHERE name = ?", (name,)).rowcount != 1:
            raise OperatorError(f"no operator {name!r}")

    def list(self) -> list[Operator]:
        rows = self.db.execute("SELECT name, display_name, role FROM operators ORDER BY name").fetchall()
        return [Operator(n, d, Role(r)) for n, d, r in rows]

    # --- logging in (the API) ---

    def candidate(self, name: str) -> Candidate:
        """Who logs in as `name`, to be checked by `Candidate.check` (slow on purpose: the
        API calls it in a worker thread, away from this database connection)."""
        row = self.db.execute("SELECT display_name, role, hash FROM operators WHERE name = ?", (name,)).fetchone()
        if row is None:
            return Candidate(None, _decoy())
        return Candidate(Operator(name, row[0], Role(row[1])), row[2])

    def open_session(self, candidate: Candidate, now_ms: int) -> tuple[str, Session] | None:
        """A new session for a checked candidate: (the cookie's token, the session), or None
        if the account was removed or its password changed while the check ran. Ends the
        oldest sessions of the operator beyond `sessions_per_operator_max`, and every
        expired one."""
        operator = candidate.operator
        assert operator is not None, "a session is for an operator whose password was checked"
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.db:
            self.db.execute("BEGIN")
            row = self.db.execute("SELECT hash FROM operators WHERE name = ?", (operator.name,)).fetchone()
            if row is None or row[0] != candidate.hashed:
                return None
            self._expire(now_ms)
            self.db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", (_token_hash(token), operator.name, csrf, now_ms, now_ms)
            )
            self.db.execute(
                "DELETE FROM sessions WHERE name = ? AND token_hash NOT IN "
                "(SELECT token_hash FROM sessions WHERE name = ? ORDER BY last_ms DESC LIMIT ?)",
                (operator.name, operator.name, limits.sessions_per_operator_max),
            )
        return token, Session(operator, csrf, now_ms + limits.session_ms_max)

    def session(self, token: str, now_ms: int) -> Session | None:
        """The live session of this cookie token (its idle clock restarts), or None."""
        row = self.db.execute(
            "SELECT o.name, o.display_name, o.role, s.csrf, s.created_ms, s.last_ms "
            "FROM sessions s JOIN operators o ON o.name = s.name WHERE s.token_hash = ?",
            (_token_hash(token),),
        ).fetchone()
        if row is None:
            return None
        name, display_name, role, csrf, created_ms, last_ms = row
        expires_ms = min(created_ms + limits.session_ms_max, last_ms + limits.session_idle_ms_max)
        if now_ms >= expires_ms:
            self.close_session(token)
            return None
        if now_ms - last_ms > limits.session_touch_ms:  # not a write per request
            self.db.execute("UPDATE sessions SET last_ms = ? WHERE token_hash = ?", (now_ms, _token_hash(token)))
        return Session(Operator(name, display_name, Role(role)), csrf, created_ms + limits.session_ms_max)

    def close_session(self, token: str) -> None:
        self.db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    def _expire(self, now_ms: int) -> None:
        self.db.execute(
            "DELETE FROM sessions WHERE created_ms <= ? OR last_ms <= ?",
            (now_ms - limits.session_ms_max, now_ms - limits.session_idle_ms_max),
        )
