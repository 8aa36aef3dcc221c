"""A node process that writes as fast as it can and prints each acknowledged entry id.

    python -m tests.node.writer DATA_DIR

Used by the kill -9 test: every id printed was acknowledged (durable, as the API's 201
waits for: group commit), so it must survive. Sixteen writers at once, as sixteen API
clients: their writes share fsyncs.
"""

import itertools
import sys
from pathlib import Path

import trio

from node.datadir import DataDir
from node.node import Node
from protocol.body import Comment

from ..protocol.factories import open_body


async def _writer(node: Node, incident: bytes, name: int) -> None:
    for n in itertools.count():
        entry = node.write(Comment(incident, f"writer {name}: {n}"))
        await node.commit.durable()
        print(entry.id.hex(), flush=True)


async def main(path: Path) -> None:
    node = Node(DataDir(path))
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        incident = node.write(open_body()).id
        await node.commit.durable()
        print(incident.hex(), flush=True)
        for name in range(16):
            nursery.start_soon(_writer, node, incident, name)


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]))
