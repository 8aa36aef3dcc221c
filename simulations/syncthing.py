"""Syncthing as the yardstick for media distribution (issue 5's side-by-side figures).

N+1 Syncthing devices on loopback (or in network namespaces) share one folder; discovery, relays, NAT traversal,
usage reports, upgrades and the self-imposed low priority are off, every device knows
every other at a static address. `spread` drops a file into device 0's folder, asks for a
scan, and times until every other device holds the whole file (Syncthing renames a file
into place only once all its blocks are verified).
"""

import hashlib
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import trio

from .federation import cpu_seconds, free_ports, memory_kib

if TYPE_CHECKING:
    from .netns import Namespaces

FOLDER = "bench"


def available() -> bool:
    return shutil.which("syncthing") is not None


Address = tuple[str, int, int]  # host, sync port, GUI/REST port


def _config(folder: Path, me: int, ids: list[str], addrs: list[Address], api_key: str) -> str:
    devices = "".join(
        f'<device id="{d}" name="d{i}" compression="metadata"><address>tcp://{addrs[i][0]}:{addrs[i][1]}</address>'
        "</device>"
        for i, d in enumerate(ids)
    )
    host, port, gui = addrs[me]
    members = "".join(f'<device id="{d}"></device>' for d in ids)
    return f"""<configuration version="36">
    <folder id="{FOLDER}" label="{FOLDER}" path="{folder}" type="sendreceive" rescanIntervalS="3600"
            fsWatcherEnabled="false">{members}</folder>
    {devices}
    <gui enabled="true" tls="false"><address>{host}:{gui}</address><apikey>{api_key}</apikey></gui>
    <options>
        <listenAddress>tcp://{host}:{port}</listenAddress>
        <globalAnnounceEnabled>false</globalAnnounceEnabled>
        <localAnnounceEnabled>false</localAnnounceEnabled>
        <relaysEnabled>false</relaysEnabled>
        <natEnabled>false</natEnabled>
        <urAccepted>-1</urAccepted>
        <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
        <crashReportingEnabled>false</crashReportingEnabled>
        <startBrowser>false</startBrowser>
        <setLowPriority>false</setLowPriority>
    </options>
</configuration>
"""


class Device:
    def __init__(self, home: Path, index: int, prefix: list[str]) -> None:
        self.home = home
        self.prefix = prefix
        self.folder = home / "data"
        self.index = index
        self.api_key = secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            ["syncthing", "generate", f"--home={home}", "--no-default-folder", "--skip-port-probing"],
            check=True,
            capture_output=True,
        )
        self.device_id = subprocess.run(
            ["syncthing", "serve", f"--home={home}", "--device-id"], check=True, capture_output=True, text=True
        ).stdout.strip()
        self.folder.mkdir()
        (self.folder / ".stfolder").mkdir()

    def configure(self, ids: list[str], addrs: list[Address]) -> None:
        self.base_url = f"http://{addrs[self.index][0]}:{addrs[self.index][2]}"
        (self.home / "config.xml").write_text(_config(self.folder, self.index, ids, addrs, self.api_key))

    def start(self) -> None:
        log = open(self.home / "syncthing.log", "ab")  # noqa: SIM115 - handed to the child
        # STMONITORED: run as one process (no restarting monitor), so the pid we measure
        # is the one doing the work.
        env = {**os.environ, "STMONITORED": "1", "STNORESTART": "1", "STNOUPGRADE": "1"}
        self.process = subprocess.Popen(
            [*self.prefix, "syncthing", "serve", f"--home={self.home}", "--no-browser", "--no-restart"],
            stdout=log,
            stderr=log,
            env=env,
        )
        log.close()

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers={"X-API-Key": self.api_key}, timeout=30)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


async def _until_connected(device: Device, others: int) -> None:
    async with device.client() as api:
        while True:
            try:
                connections = (await api.get("/rest/system/connections")).json()["connections"]
                if sum(1 for c in connections.values() if c["connected"]) >= others:
                    return
            except httpx.TransportError:
                pass
            await trio.sleep(0.1)


async def spread(root: Path, others: int, source_file: Path, netns: "Namespaces | None" = None) -> dict[str, Any]:
    """Replicate `source_file` from device 0 to `others` devices (device i in namespace i
    with `netns`); seconds, CPU time and peak RSS."""
    devices = [Device(root / f"st{i:02d}", i, netns.prefix(i) if netns else []) for i in range(others + 1)]
    flat = free_ports(2 * len(devices))
    hosts = [netns.host(i) if netns else "127.0.0.1" for i in range(len(devices))]
    addrs = [(hosts[i], flat[2 * i], flat[2 * i + 1]) for i in range(len(devices))]
    ids = [d.device_id for d in devices]
    for device in devices:
        device.configure(ids, addrs)
    size = source_file.stat().st_size
    try:
        for device in devices:
            device.start()
        with trio.fail_after(120):
            for device in devices:
                await _until_connected(device, others)
        source = devices[0]
        target = source.folder / source_file.name
        shutil.copyfile(source_file, source.folder / ".incoming")  # outside the timing: our
        os.rename(source.folder / ".incoming", target)  # upload is not timed either
        cpu_before = sum(cpu_seconds(d.pid) for d in devices)
        async with source.client() as api:
            started = time.monotonic()
            (await api.post("/rest/db/scan", params={"folder": FOLDER})).raise_for_status()
            scanned = None
            done_at: dict[int, float] = {}
            with trio.fail_after(1800):
                while len(done_at) < others:
                    if scanned is None:
                        status = (await api.get("/rest/db/status", params={"folder": FOLDER})).json()
                        if status["localFiles"] >= 1 and status["state"] == "idle":
                            scanned = time.monotonic() - started
                    for device in devices[1:]:
                        path = device.folder / source_file.name
                        if device.index not in done_at and path.exists() and path.stat().st_size == size:
                            done_at[device.index] = time.monotonic() - started
                    await trio.sleep(0.05)
        cpu = sum(cpu_seconds(d.pid) for d in devices) - cpu_before
        peaks = [memory_kib(d.pid)["VmHWM"] / 1024 for d in devices]
        digest = _sha256(source_file)
        identical = all(_sha256(d.folder / source_file.name) == digest for d in devices[1:])
    finally:
        for device in devices:
            device.stop()
    scan_s = scanned if scanned is not None else 0.0
    return {
        "scan_s": scan_s,
        "complete_everywhere_s": max(done_at.values()),
        "complete_everywhere_after_scan_s": max(done_at.values()) - scan_s,
        "cpu_s_all_devices": cpu,
        "peak_rss_mib_source": peaks[0],
        "peak_rss_mib_receivers_max": max(peaks[1:]),
        "identical": identical,
    }


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()
