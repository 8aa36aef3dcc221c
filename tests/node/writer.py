"""A node process that writes as fast as it can and prints each acknowledged entry id.

    python -m tests.node.writer DATA_DIR

Used by the kill -9 test: every id printed was acknowledged, so it must survive.
"""

import sys
from pathlib import Path

import trio

from node.datadir import DataDir
from node.node import Node
from protocol.body import Comment

from ..protocol.factories import open_body


async def main(path: Path) -> None:
    node = Node(DataDir(path))
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        incident = node.write(open_body()).id
        print(incident.hex(), flush=True)
        n = 0
        while True:
            entry = node.write(Comment(incident, f"burst {n}"))
            print(entry.id.hex(), flush=True)
            n += 1
            if n % 20 == 0:
                await trio.sleep(0)


if __name__ == "__main__":
    trio.run(main, Path(sys.argv[1]))
