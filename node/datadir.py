"""The data directory: everything a node owns on disk.

DATA_DIR/identity.key   32-byte Ed25519 seed, mode 0600 (the member's secret)
DATA_DIR/identity.next  during a key rotation: the new seed, 0600, until the handover is written
DATA_DIR/identity.old   after a key rotation: the seed rotated away from, 0600 (delete it at will)
DATA_DIR/config.toml    the node's options
DATA_DIR/genesis.json   the federation's founders and quorum, signed by every founder: the
                        only roster configured by hand (governance entries change it)
DATA_DIR/dial.json      optional: where this node dials some members instead of the
                        addresses they announce ({"public key hex": ["multiaddr", ...]})
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
from typing import Any

from protocol import limits
from protocol.charter import Quorum
from protocol.errors import ProtocolError
from protocol.governance import Genesis
from protocol.identity import Identity, seed_bytes
from protocol.roster import Member, Roster, check_addrs

from .config import Config, ConfigError

# A new federation of one (`qroc init`) is governed by two thirds of its members once it grows.
DEFAULT_QUORUM = Quorum(2, 3)


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
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make the entries of directory `path` (files created, renamed or removed) durable."""
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # json recurses per nesting level
        raise DataDirError(f"cannot read {what} {path}: {exc}") from None


def read_genesis(path: Path, check: bool = True) -> Genesis:
    """A genesis document; with `check`, every founder's signature verified."""
    try:
        genesis = Genesis.from_json(read_json(path, "genesis"))
        return genesis.check() if check else genesis
    except ProtocolError as exc:
        raise DataDirError(f"genesis {path}: {exc}") from None


def write_genesis(path: Path, genesis: Genesis) -> None:
    write_atomically(path, (json.dumps(genesis.to_json(), indent=2) + "\n").encode())


class DataDir:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity_path = path / "identity.key"
        self.next_identity_path = path / "identity.next"
        self.old_identity_path = path / "identity.old"
        self.config_path = path / "config.toml"
        self.genesis_path = path / "genesis.json"
        self.dial_path = path / "dial.json"
        self.token_path = path / "api-token"
        self.db_path = path / "node.db"
        self.operators_path = path / "operators.db"
        self.initial_password_path = path / "initial-operator-password"
        self.chunks_path = path / "chunks"

    def init(self, config: Config, seed: bytes | None = None) -> Identity:
        """Create identity, config, token and a genesis of one founder: ourselves (replace
        it with the federation's, signed by every founder, before the first start)."""
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
        self.save_genesis(Genesis((self.member(identity, config),), DEFAULT_QUORUM).signed_by(identity))
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

    def next_identity(self) -> Identity:
        """The key a rotation moves to: made once, durable before any handover names it."""
        if not self.next_identity_path.exists():
            write_secret(self.next_identity_path, secrets.token_bytes(seed_bytes))
        seed = self.next_identity_path.read_bytes()
        if len(seed) != seed_bytes:
            raise DataDirError(f"{self.next_identity_path} is not a {seed_bytes}-byte key: delete it and retry")
        return Identity(seed)

    def promote_next_identity(self) -> None:
        """After the handover is durable: the new key signs from the next start on."""
        if self.old_identity_path.exists():
            self.old_identity_path.unlink()
        os.link(self.identity_path, self.old_identity_path)
        os.replace(self.next_identity_path, self.identity_path)
        fsync_dir(self.path)

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

    def genesis(self) -> Genesis:
        """The federation's genesis, every founder's signature checked."""
        if not self.genesis_path.exists():
            raise DataDirError(f"no genesis at {self.genesis_path} (create one with 'qroc init')")
        return read_genesis(self.genesis_path)

    def save_genesis(self, genesis: Genesis) -> None:
        write_genesis(self.genesis_path, genesis)

    def dial(self) -> dict[bytes, tuple[str, ...]]:
        """This node's own dial addresses for some members (dial.json; none if absent)."""
        if not self.dial_path.exists():
            return {}
        doc = read_json(self.dial_path, "dial addresses")
        if not isinstance(doc, dict) or len(doc) > limits.roster_members_max:
            raise DataDirError(f"{self.dial_path} maps member public keys (hex) to lists of multiaddrs")
        out = {}
        for key, addrs in doc.items():
            try:
                public_key = bytes.fromhex(key)
                out[public_key] = tuple(check_addrs(addrs))
            except (ValueError, ProtocolError) as exc:
                raise DataDirError(f"{self.dial_path}, member {key!r}: {exc}") from None
        return out

    def save_dial(self, dial: dict[bytes, tuple[str, ...]]) -> None:
        doc = {key.hex(): list(addrs) for key, addrs in sorted(dial.items())}
        write_atomically(self.dial_path, (json.dumps(doc, indent=2) + "\n").encode())

    def roster(self) -> Roster:
        """The genesis roster, dialled as dial.json says: where a replica's governance fold
        starts (offline tools read the founders' entries with it)."""
        return Roster(self.genesis().members, dial=self.dial())


__all__ = ["ConfigError", "DataDir", "DataDirError"]
