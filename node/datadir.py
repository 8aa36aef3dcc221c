"""The data directory: everything a node owns on disk.

DATA_DIR/identity.key   32-byte Ed25519 seed, mode 0600 (the member's secret)
DATA_DIR/config.toml    the node's options
DATA_DIR/roster.json    the federation's member cards (a JSON list)
DATA_DIR/api-token      bearer token for the local HTTP API, mode 0600
DATA_DIR/node.db        SQLite store (plus -wal and -shm)
DATA_DIR/operators.db   console operator accounts and sessions, mode 0600 (node/operators.py)
DATA_DIR/initial-operator-password  the first account's password (embedded defaults only), 0600
DATA_DIR/chunks/        media chunks, content-addressed
"""

import json
import os
import secrets
import stat
from pathlib import Path

from protocol.errors import InvalidField
from protocol.identity import Identity, seed_bytes
from protocol.roster import Member, Roster

from .config import Config, ConfigError


class DataDirError(Exception):
    """Something in the data directory is missing, unreadable or unsafe."""


def write_secret(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600 from the first byte on; never overwrite."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class DataDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity_path = path / "identity.key"
        self.config_path = path / "config.toml"
        self.roster_path = path / "roster.json"
        self.token_path = path / "api-token"
        self.db_path = path / "node.db"
        self.operators_path = path / "operators.db"
        self.initial_password_path = path / "initial-operator-password"
        self.chunks_path = path / "chunks"

    def init(self, config: Config, seed: bytes | None = None) -> Identity:
        """Create identity, config, token and a roster holding ourselves."""
        if self.identity_path.exists():
            raise DataDirError(f"{self.identity_path} already exists: refusing to overwrite an identity")
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_secret(self.identity_path, seed or secrets.token_bytes(seed_bytes))
            if not self.token_path.exists():
                write_secret(self.token_path, secrets.token_urlsafe(32).encode() + b"\n")
            write_atomically(self.config_path, config.to_toml().encode())
        except OSError as exc:
            raise DataDirError(f"cannot create {self.path}: {exc}") from None
        identity = self.identity()
        self.save_roster(Roster([self.member(identity, config)]))
        return identity

    def identity(self) -> Identity:
        try:
            mode = self.identity_path.stat().st_mode
            seed = self.identity_path.read_bytes()
        except FileNotFoundError:
            raise DataDirError(f"no identity at {self.identity_path} (create one with 'qroc init')") from None
        except OSError as exc:
            raise DataDirError(f"cannot read identity {self.identity_path}: {exc}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise DataDirError(f"{self.identity_path} is readable by others: chmod 600 it")
        if len(seed) != seed_bytes:
            raise DataDirError(f"{self.identity_path} is not a {seed_bytes}-byte key (it has {len(seed)} bytes)")
        return Identity(seed)

    def config(self) -> Config:
        return Config.load(self.config_path)

    def token(self) -> str:
        try:
            return self.token_path.read_text().strip()
        except OSError as exc:
            raise DataDirError(f"cannot read API token {self.token_path}: {exc}") from None

    def member(self, identity: Identity, config: Config) -> Member:
        addrs = config.announce or [a for a in config.listen if "/0.0.0.0/" not in a and "/::/" not in a]
        return Member(
            config.name, config.country, identity.public_key, tuple(f"{a}/p2p/{identity.peer_id}" for a in addrs)
        )

    def roster(self) -> Roster:
        try:
            cards = json.loads(self.roster_path.read_text())
        except FileNotFoundError:
            raise DataDirError(f"no roster at {self.roster_path}") from None
        except (OSError, ValueError, RecursionError) as exc:  # json recurses per nesting level
            raise DataDirError(f"cannot read roster {self.roster_path}: {exc}") from None
        if not isinstance(cards, list):
            raise DataDirError(f"roster {self.roster_path} must be a JSON list of member cards")
        try:
            return Roster(Member.from_card(card) for card in cards)
        except InvalidField as exc:
            raise DataDirError(f"roster {self.roster_path}: {exc}") from None

    def save_roster(self, roster: Roster) -> None:
        write_atomically(self.roster_path, (json.dumps([m.card() for m in roster], indent=2) + "\n").encode())


__all__ = ["ConfigError", "DataDir", "DataDirError"]
