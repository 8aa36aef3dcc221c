"""Node configuration: one TOML file in the data directory, every option documented in
config/node.example.toml. Loading validates everything and names the bad option."""

import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import multiaddr
import tomli_w

from protocol import limits
from protocol.errors import InvalidField
from protocol.identity import public_key_of
from protocol.roster import MEMBER_NAME, check_country


class ConfigError(Exception):
    """The config file is missing, unreadable or has a bad option."""


@dataclass
class Config:
    name: str
    country: str
    listen: list[str] = field(default_factory=lambda: ["/ip4/0.0.0.0/tcp/4001"])
    announce: list[str] = field(default_factory=list)
    # Members a node reaches before it knows the roster (a newly admitted member: it holds
    # only the genesis): multiaddrs ending in /p2p/PEER_ID, admitted and dialled until the
    # roster the mesh agrees on says who they are.
    join: list[str] = field(default_factory=list)
    api: str = "127.0.0.1:8700"
    sync_interval_s: float = 10.0
    gossip: bool = True
    media_fetch: str = "all"  # "all" or "on_demand"
    media_auto_fetch_bytes_max: int = limits.media_bytes_max
    log_level: str = "info"
    log_format: str = "json"  # "json" (journald-friendly) or "text"
    # HTTPS for the API and console (PEM files); needed when the console is reached from
    # other machines of the OC's network. With it, session cookies are Secure.
    tls_cert: str = ""
    tls_key: str = ""
    # Cursor-on-Target: incidents streamed to TAK servers or clients ("tcp://host:port"),
    # and a listener for TAK clients' markers ("HOST:PORT"; empty: none).
    cot_out: list[str] = field(default_factory=list)
    cot_in: str = ""

    def __post_init__(self) -> None:
        check = _Check(self)
        try:
            MEMBER_NAME.check(self.name)
        except InvalidField as exc:
            raise ConfigError(f"config option 'name': {exc}") from None
        try:
            check_country(self.country)
        except InvalidField as exc:
            raise ConfigError(f"config option 'country': {exc}") from None
        check.addrs("listen", required=True)
        check.addrs("announce", required=False)
        check.addrs("join", required=False)
        for addr in self.join:
            try:
                public_key_of(addr.rpartition("/p2p/")[2])
            except InvalidField:
                raise ConfigError(f"config option 'join': {addr!r} does not end in /p2p/PEER_ID") from None
        self.api_host, self.api_port = parse_host_port(self.api, "api")
        interval = self.sync_interval_s
        if isinstance(interval, bool) or not isinstance(interval, int | float) or not 0.5 <= interval <= 3600:
            raise ConfigError("config option 'sync_interval_s' must be between 0.5 and 3600 seconds")
        if not isinstance(self.gossip, bool):
            raise ConfigError("config option 'gossip' must be true or false")
        check.choice("media_fetch", {"all", "on_demand"})
        if not isinstance(self.media_auto_fetch_bytes_max, int) or self.media_auto_fetch_bytes_max < 0:
            raise ConfigError("config option 'media_auto_fetch_bytes_max' must be a whole number of bytes")
        check.choice("log_level", {"debug", "info", "warning", "error"})
        check.choice("log_format", {"json", "text"})
        if not (isinstance(self.tls_cert, str) and isinstance(self.tls_key, str)) or bool(self.tls_cert) != bool(
            self.tls_key
        ):
            raise ConfigError("config options 'tls_cert' and 'tls_key' are PEM file paths, both given or neither")
        if not isinstance(self.cot_out, list) or not all(
            isinstance(d, str) and d.startswith("tcp://") for d in self.cot_out
        ):
            raise ConfigError("config option 'cot_out' must be a list of 'tcp://HOST:PORT'")
        for destination in self.cot_out:
            parse_host_port(destination.removeprefix("tcp://"), "cot_out")
        if not isinstance(self.cot_in, str):
            raise ConfigError("config option 'cot_in' must be HOST:PORT, or empty for none")
        if self.cot_in:
            parse_host_port(self.cot_in, "cot_in")

    def to_toml(self) -> str:
        return tomli_w.dumps({k: v for k, v in asdict(self).items() if not k.startswith("api_")})

    @classmethod
    def load(cls, path: Path) -> "Config":
        try:
            data: dict[str, Any] = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError(f"no config file at {path} (create one with 'qroc init')") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
        except RecursionError:  # tomllib recurses once per nested array or inline table
            raise ConfigError(f"cannot read config {path}: arrays or tables nested too deep") from None
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"config {path}: unknown option {unknown[0]!r}")
        missing = [k for k in ("name", "country") if k not in data]
        if missing:
            raise ConfigError(f"config {path}: missing option {missing[0]!r}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ConfigError(f"config {path}: {exc}") from None


def parse_host_port(value: object, option: str) -> tuple[str, int]:
    if isinstance(value, str) and ":" in value:
        host, _, port = value.rpartition(":")
        if host and re.fullmatch("[0-9]{1,5}", port) and 0 < int(port) < 65536:  # not str.isdigit: "²"
            return host.strip("[]"), int(port)
    raise ConfigError(f"config option {option!r} must be HOST:PORT, not {value!r}")


class _Check:
    def __init__(self, config: Config) -> None:
        self.config = config

    def choice(self, option: str, allowed: set[str]) -> None:
        if getattr(self.config, option) not in allowed:
            raise ConfigError(f"config option {option!r} must be one of {sorted(allowed)}")

    def addrs(self, option: str, required: bool) -> None:
        value = getattr(self.config, option)
        if not isinstance(value, list) or (required and not value):
            raise ConfigError(f"config option {option!r} must be a list of multiaddrs")
        for addr in value:
            try:
                multiaddr.Multiaddr(addr)
            except Exception:
                raise ConfigError(f"config option {option!r}: {addr!r} is not a multiaddr") from None
