"""Nodes in network namespaces, links shaped and cut by the kernel (needs root and iproute2).

Topology: one Linux bridge in the root namespace (it has an address too, so the bench
process can reach every node's API); node i lives in namespace `qroc-<tag>-<i>` with an
`eth0` (one end of a veth pair, the other end on the bridge) at 10.77.<tag>.<i+1>/24.
Node i's upload is its eth0's egress; `rate_mbit` shapes it with tbf (netem is not
available on this kind of machine, and upload is what a swarm is bounded by). Downloads
are not shaped. Everything is removed on exit, also after an error.

    with Namespaces(4, rate_mbit=100) as netns:
        Cluster(root, 4, emulated=set(), netns=netns)
"""

import json
import os
import shutil
import subprocess
from types import TracebackType


def available() -> str | None:
    """None if namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    return None


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


class Namespaces:
    def __init__(self, n: int, rate_mbit: float | None = None) -> None:
        assert 0 < n < 250
        self.n = n
        self.rate_mbit = rate_mbit
        self.tag = os.getpid() % 250  # one subnet and name space per running bench
        self.bridge = f"qb{self.tag}"
        self.names = [f"qroc-{self.tag}-{i}" for i in range(n)]

    def host(self, i: int) -> str:
        return f"10.77.{self.tag}.{i + 1}"

    def prefix(self, i: int) -> list[str]:
        return ["ip", "netns", "exec", self.names[i]]

    def __enter__(self) -> "Namespaces":
        try:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
            _run("ip", "addr", "add", f"10.77.{self.tag}.254/24", "dev", self.bridge)
            _run("ip", "link", "set", self.bridge, "up")
            for i, name in enumerate(self.names):
                outer, inner = f"qv{self.tag}-{i}", f"qp{self.tag}-{i}"
                _run("ip", "netns", "add", name)
                _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
                _run("ip", "link", "set", outer, "master", self.bridge)
                _run("ip", "link", "set", outer, "up")
                _run("ip", "link", "set", inner, "netns", name)
                _run("ip", "-n", name, "link", "set", inner, "name", "eth0")
                _run("ip", "-n", name, "addr", "add", f"{self.host(i)}/24", "dev", "eth0")
                _run("ip", "-n", name, "link", "set", "eth0", "up")
                _run("ip", "-n", name, "link", "set", "lo", "up")
                if self.rate_mbit is not None:
                    # burst: a few full-size segments at this rate; latency bounds the queue.
                    _run("tc", "-n", name, "qdisc", "add", "dev", "eth0", "root", "tbf", "rate",
                         f"{self.rate_mbit}mbit", "burst", "64kb", "latency", "50ms")  # fmt: skip
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def sent_bytes(self) -> list[int]:
        """Bytes each node has sent on eth0 so far (its root qdisc's counter)."""
        out = []
        for name in self.names:
            shown = subprocess.run(
                ["tc", "-n", name, "-s", "-j", "qdisc", "show", "dev", "eth0"], check=True, capture_output=True
            )
            out.append(sum(int(q["bytes"]) for q in json.loads(shown.stdout) if q.get("root")))
        return out

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        for name in self.names:  # deleting a namespace deletes its veth pair
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
