import json
import tomllib
from pathlib import Path

import pytest

from node.config import Config, ConfigError
from protocol.governance import Genesis

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_the_example_config_documents_and_loads_every_option():
    path = CONFIG / "node.example.toml"
    example = tomllib.loads(path.read_text())
    assert set(example) == set(Config.__dataclass_fields__)
    Config.load(path)


def test_the_example_genesis_is_signed_by_every_founder():
    genesis = Genesis.from_json(json.loads((CONFIG / "genesis.example.json").read_text())).check()
    assert {m.country for m in genesis.members} == {"BE", "CZ", "DE"} and str(genesis.quorum) == "2/3"


def test_the_systemd_unit_is_type_notify_with_watchdog_and_sandboxing():
    unit = (CONFIG / "qroc.service").read_text()
    for line in ("Type=notify", "WatchdogSec=", "Restart=always", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert line in unit


@pytest.mark.parametrize(
    ("option", "value", "complaint"),
    [
        ("sync_interval_s", 0, "sync_interval_s"),
        ("media_fetch", "sometimes", "media_fetch"),
        ("log_format", "xml", "log_format"),
        ("gossip", "yes", "gossip"),
        ("listen", [], "listen"),
        ("api", "localhost", "HOST:PORT"),
    ],
)
def test_a_bad_option_is_named(option, value, complaint):
    with pytest.raises(ConfigError, match=complaint):
        Config(name="OC", country="BE", **{option: value})
