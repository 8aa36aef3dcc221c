"""Nodes in network namespaces, links shaped and cut by the kernel (needs root and iproute2).

Topology: one Linux bridge in the root namespace (it has an address too, so the bench
process can reach every node's API); node i lives in namespace `qroc-<tag>-<i>` with an
`eth0` (one end of a veth pair, the other end on the bridge) at 10.77.<tag>.<i+1>/24.

Each eth0's egress (the node's upload) has an htb tree: class 1:1 caps the whole upload
at `rate_mbit` (tbf-like; netem is not available on this kind of machine, so links
cannot be delayed), under it one class per peer (1:<10+j>, selected by destination
address) and a default class 1:2 for everything else (the API, ARP). A cut link (a, b) is
a blackhole qdisc on a's class for b: packets vanish as on a failed route, no reset is
sent, and TCP finds out by itself. Bytes per link are the per-peer classes' counters.
The bridge-side end of each veth carries the same cap for the node's download when a
scenario shapes the node. Everything is removed on exit, also after an error.

    with Namespaces(4, rate_mbit=100) as netns:
        Cluster(root, 4, emulated=set(), netns=netns)
"""

import json
import os
import re
import shutil
import subprocess
from types import TracebackType

from .links import LinkControl, Shape

UNSHAPED_MBIT = 10_000  # a class must have a rate; this is beyond what a veth carries here
_CLASS_SENT = re.compile(r"class htb 1:(\w+) .*?\n Sent (\d+) bytes")


def why_unavailable() -> str | None:
    """None if namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("tc") is None:
        return "iproute2 (ip, tc) is not installed"
    trial = f"qroc-trial-{os.getpid()}"  # root in a container may still lack CAP_NET_ADMIN
    made = subprocess.run(["ip", "netns", "add", trial], capture_output=True, text=True)
    subprocess.run(["ip", "netns", "del", trial], capture_output=True)
    return None if made.returncode == 0 else f"cannot create a network namespace: {made.stderr.strip()}"


def _mbit(value: float | None) -> str:
    return f"{value or UNSHAPED_MBIT}mbit"


def _htb(rate: str, ceil: str | None = None) -> list[str]:
    """An htb class's arguments. burst: a few full-size segments, as a real link's queue
    would pass at once."""
    return ["rate", rate, *(["ceil", ceil] if ceil else []), "burst", "64kb", "cburst", "64kb", "quantum", "65536"]


def _run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


class Namespaces(LinkControl):
    def __init__(self, n: int, rate_mbit: float | None = None) -> None:
        assert 1 < n < 90, "per-peer class ids 1:<10+j> stay two decimal digits (read as hex)"
        self.n = n
        self.rate_mbit = rate_mbit
        self.tag = os.getpid() % 250  # one subnet and name space per running bench
        self.bridge = f"qb{self.tag}"
        self.names = [f"qroc-{self.tag}-{i}" for i in range(n)]
        self.cut: set[tuple[int, int]] = set()

    def host(self, i: int) -> str:
        return f"10.77.{self.tag}.{i + 1}"

    def prefix(self, i: int) -> list[str]:
        return ["ip", "netns", "exec", self.names[i]]

    def _outer(self, i: int) -> str:
        return f"qv{self.tag}-{i}"

    def _tc(self, i: int | None) -> list[str]:
        """tc in node i's namespace (eth0), or in the root namespace (None)."""
        return ["tc"] if i is None else ["tc", "-n", self.names[i]]

    def __enter__(self) -> "Namespaces":
        try:
            _run("ip", "link", "add", self.bridge, "type", "bridge")
            _run("ip", "addr", "add", f"10.77.{self.tag}.254/24", "dev", self.bridge)
            _run("ip", "link", "set", self.bridge, "up")
            for i, name in enumerate(self.names):
                outer, inner = self._outer(i), f"qp{self.tag}-{i}"
                _run("ip", "netns", "add", name)
                _run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
                _run("ip", "link", "set", outer, "master", self.bridge)
                _run("ip", "link", "set", outer, "up")
                _run("ip", "link", "set", inner, "netns", name)
                _run("ip", "-n", name, "link", "set", inner, "name", "eth0")
                _run("ip", "-n", name, "addr", "add", f"{self.host(i)}/24", "dev", "eth0")
                _run("ip", "-n", name, "link", "set", "eth0", "up")
                _run("ip", "-n", name, "link", "set", "lo", "up")
                self._tree(self._tc(i), "eth0", self.rate_mbit, peers=[j for j in range(self.n) if j != i])
                self._tree(self._tc(None), outer, None, peers=[])
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _tree(self, tc: list[str], dev: str, rate_mbit: float | None, peers: list[int]) -> None:
        _run(*tc, "qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "2")
        _run(*tc, "class", "add", "dev", dev, "parent", "1:", "classid", "1:1", "htb", *_htb(_mbit(rate_mbit)))
        for j in [2, *(10 + p for p in peers)]:  # the default class, then one per peer: each
            # is guaranteed little and may borrow up to the node's whole cap
            _run(*tc, "class", "add", "dev", dev, "parent", "1:1", "classid", f"1:{j}", "htb",
                 *_htb("1mbit", _mbit(rate_mbit)))  # fmt: skip
        for p in peers:
            _run(*tc, "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                 "match", "ip", "dst", f"{self.host(p)}/32", "flowid", f"1:{10 + p}")  # fmt: skip

    # --- LinkControl: faults by the kernel ---

    def pairs(self) -> list[tuple[int, int]]:
        return [(a, b) for a in range(self.n) for b in range(self.n) if a != b]

    def set_link(self, a: int, b: int, up: bool) -> None:
        if up == ((a, b) not in self.cut):
            return
        leaf = ["dev", "eth0", "parent", f"1:{10 + b}"]
        if up:
            _run(*self._tc(a), "qdisc", "del", *leaf)
            self.cut.discard((a, b))
        else:
            _run(*self._tc(a), "qdisc", "replace", *leaf, "handle", f"{10 + b}:", "blackhole")
            self.cut.add((a, b))

    def shape_node(self, node: int, shape: Shape) -> None:
        if shape.delay_ms or shape.jitter_ms:
            raise ValueError("links in network namespaces cannot be delayed here (no netem)")
        mbit = shape.rate_bytes_per_s * 8 / 1e6 if shape.rate_bytes_per_s else self.rate_mbit
        for tc, dev in ((self._tc(node), "eth0"), (self._tc(None), self._outer(node))):
            _run(*tc, "class", "change", "dev", dev, "parent", "1:", "classid", "1:1", "htb", *_htb(_mbit(mbit)))

    def bytes_per_link(self) -> dict[tuple[int, int], int]:
        """Bytes a sent to b (IP packets, headers included)."""
        out = {}
        for a in range(self.n):
            shown = _run(*self._tc(a), "-s", "class", "show", "dev", "eth0")
            sent = {minor: int(count) for minor, count in _CLASS_SENT.findall(shown)}
            for b in range(self.n):
                if b != a:
                    out[(a, b)] = sent.get(str(10 + b), 0)
        return out

    def sent_bytes(self) -> list[int]:
        """Bytes each node has sent on eth0 so far (its root qdisc's counter)."""
        out = []
        for i in range(self.n):
            shown = json.loads(_run(*self._tc(i), "-s", "-j", "qdisc", "show", "dev", "eth0"))
            out.append(sum(int(q["bytes"]) for q in shown if q.get("root")))
        return out

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        for name in self.names:  # deleting a namespace deletes its veth pair
            subprocess.run(["ip", "netns", "del", name], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
