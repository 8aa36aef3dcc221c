"""Real node processes: crash safety and the command line."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import httpx

from node.datadir import DataDir
from node.node import Node
from simulations.federation import free_port

from .federation import federation

QROC = [sys.executable, "-m", "node"]


def qroc(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*QROC, *args], capture_output=True, text=True, input=stdin, timeout=60)


def test_kill_9_during_a_burst_of_writes_loses_nothing_acknowledged(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.node.writer", str(datadir.path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    acknowledged = []
    assert writer.stdout is not None
    for line in writer.stdout:
        acknowledged.append(bytes.fromhex(line.strip().decode()))
        if len(acknowledged) >= 300:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    acknowledged += [bytes.fromhex(x) for x in writer.stdout.read().decode().split()]
    db = sqlite3.connect(datadir.db_path)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in db.execute("SELECT id FROM entries")}
    db.close()
    assert set(acknowledged) <= stored
    # And the node starts again on what it finds.
    node = Node(datadir)
    assert node.replica.log.head(node.identity.public_key)[0] == len(stored)


def test_two_founders_write_sign_and_install_one_genesis_from_their_cards(tmp_path):
    a, b = tmp_path / "be", tmp_path / "cz"
    port = free_port()
    result = qroc("init", str(a), "--name", "OC Belgium", "--country", "BE", "--listen", f"/ip4/127.0.0.1/tcp/{port}")
    assert result.returncode == 0, result.stderr
    assert qroc("init", str(b), "--name", "OC Czechia", "--country", "CZ").returncode == 0
    assert oct((a / "identity.key").stat().st_mode & 0o777) == "0o600"
    assert oct((a / "api-token").stat().st_mode & 0o777) == "0o600"
    card = json.loads(qroc("member", str(a)).stdout)
    assert card["country"] == "BE" and card["addrs"] == [f"/ip4/127.0.0.1/tcp/{port}/p2p/{card['peer_id']}"]
    (tmp_path / "be.json").write_text(json.dumps(card))
    (tmp_path / "cz.json").write_text(qroc("member", str(b)).stdout)
    genesis = str(tmp_path / "genesis.json")
    written = qroc("genesis", "new", genesis, "--card", str(tmp_path / "be.json"), "--card", str(tmp_path / "cz.json"))
    assert written.returncode == 0, written.stderr
    assert "lacks the signature of OC Belgium" in error_of(qroc("genesis", "use", str(a), genesis))
    assert "still to sign: OC Czechia" in qroc("genesis", "sign", str(a), genesis).stdout
    assert "still to sign: nobody" in qroc("genesis", "sign", str(b), genesis).stdout
    for d in (a, b):
        assert qroc("genesis", "use", str(d), genesis).returncode == 0
    listing = qroc("genesis", "show", str(b)).stdout
    assert "OC Belgium" in listing and "OC Czechia" in listing and card["peer_id"] in listing


def error_of(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_cli_errors_are_one_line_and_a_non_zero_exit(tmp_path):
    home = tmp_path / "oc"
    assert qroc("init", str(home), "--name", "OC", "--country", "BE").returncode == 0
    assert "refusing to overwrite" in error_of(qroc("init", str(home), "--name", "OC", "--country", "BE"))
    assert "ISO 3166" in error_of(qroc("init", str(tmp_path / "x"), "--name", "OC", "--country", "ZZ"))
    assert "HOST:PORT" in error_of(
        qroc("init", str(tmp_path / "y"), "--name", "OC", "--country", "BE", "--api", "nope")
    )
    assert "multiaddr" in error_of(
        qroc("init", str(tmp_path / "z"), "--name", "OC", "--country", "BE", "--listen", "tcp:1")
    )
    assert "no identity" in error_of(qroc("member", str(tmp_path / "missing")))
    (tmp_path / "bad.json").write_text("{nope")
    assert "cannot read member card" in error_of(
        qroc("genesis", "new", str(tmp_path / "g"), "--card", str(tmp_path / "bad.json"))
    )
    (tmp_path / "bad.json").write_text('{"name": "X", "country": "BE"}')
    assert "public_key" in error_of(qroc("genesis", "new", str(tmp_path / "g"), "--card", str(tmp_path / "bad.json")))
    assert "cannot reach the node" in error_of(qroc("governance", "list", str(home)))
    (home / "config.toml").write_text("name = [broken")
    assert "cannot read config" in error_of(qroc("run", str(home)))
    (home / "config.toml").write_text('name = "OC"\ncountry = "BE"\nbogus = 1\n')
    assert "unknown option 'bogus'" in error_of(qroc("run", str(home)))
    os.chmod(home / "identity.key", 0o644)
    assert "chmod 600" in error_of(qroc("member", str(home)))
    os.chmod(home / "identity.key", 0o600)
    (home / "identity.key").write_bytes(b"short")
    assert "32-byte key" in error_of(qroc("member", str(home)))
    usage = qroc("governance", "approve")
    assert usage.returncode == 2 and "Traceback" not in usage.stderr


def test_a_port_in_use_is_one_clear_line(tmp_path):
    port = free_port()
    dirs = [tmp_path / "first", tmp_path / "second"]
    for i, d in enumerate(dirs):
        assert (
            qroc(
                "init",
                str(d),
                "--name",
                f"OC {i}",
                "--country",
                "BE",
                "--listen",
                f"/ip4/127.0.0.1/tcp/{port}",
                "--api",
                f"127.0.0.1:{free_port()}",
            ).returncode
            == 0
        )
    first = subprocess.Popen([*QROC, "run", str(dirs[0])], stderr=subprocess.PIPE, text=True)
    try:
        assert first.stderr is not None
        for line in first.stderr:
            if "up: peer id" in line:
                break
        assert "is unavailable: Address already in use" in error_of(qroc("run", str(dirs[1])))
    finally:
        first.terminate()
        first.wait(timeout=10)


def test_sigterm_stops_the_node_in_order_and_promptly(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    node = subprocess.Popen([*QROC, "run", str(datadir.path)], stderr=subprocess.PIPE, text=True)
    assert node.stderr is not None
    for line in node.stderr:
        if "up: peer id" in line:
            break
    started = time.monotonic()
    node.send_signal(signal.SIGTERM)
    rest = node.stderr.read()
    assert node.wait(timeout=10) == 0
    assert time.monotonic() - started < 20  # a bound, not a figure: systemd waits 90 s before it kills
    assert "node stopped" in rest and "Traceback" not in rest
    assert sqlite3.connect(datadir.db_path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_run_without_a_data_dir_creates_one_on_embedded_defaults(tmp_path):
    env = {**os.environ, "QROC_DATA_DIR": str(tmp_path / "default")}
    node = subprocess.Popen([*QROC, "run"], stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert node.stderr is not None
        seen = []
        for line in node.stderr:
            seen.append(line)
            if "up: peer id" in line:
                break
        assert any("created" in line for line in seen)
        datadir = DataDir(tmp_path / "default")
        assert datadir.config().country == "EU" and datadir.identity()
    finally:
        node.send_signal(signal.SIGINT)
        assert node.wait(timeout=10) == 0


def test_media_put_and_get_through_a_running_node(tmp_path):
    (datadir,) = federation(tmp_path, 1)
    photo = tmp_path / "suspect.jpg"
    photo.write_bytes(os.urandom(2_500_000))
    assert "cannot reach the node" in error_of(qroc("media", "put", str(datadir.path), "0" * 64, str(photo)))
    node = subprocess.Popen([*QROC, "run", str(datadir.path)], stderr=subprocess.PIPE, text=True)
    try:
        assert node.stderr is not None
        for line in node.stderr:
            if "up: peer id" in line:
                break
        config = datadir.config()
        api = httpx.Client(
            base_url=f"http://{config.api_host}:{config.api_port}",
            headers={"Authorization": f"Bearer {datadir.token()}"},
        )
        incident = api.post(
            "/v1/incidents", json={"title": "Suspect photo", "category": "manhunt", "severity": "high"}
        ).json()["id"]
        put = qroc("media", "put", str(datadir.path), incident, str(photo))
        assert put.returncode == 0, put.stderr
        item = json.loads(put.stdout)
        assert item["mime"] == "image/jpeg" and item["name"] == "suspect.jpg" and item["size"] == 2_500_000
        out = tmp_path / "copy.jpg"
        got = qroc("media", "get", str(datadir.path), item["id"], str(out))
        assert got.returncode == 0, got.stderr
        assert out.read_bytes() == photo.read_bytes()
        assert "no incident" in error_of(qroc("media", "put", str(datadir.path), "0" * 64, str(photo)))
        assert "no media" in error_of(qroc("media", "get", str(datadir.path), "0" * 64, str(out)))
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=10)
