"""Content-addressed chunk files: DATA_DIR/chunks/ab/<hash hex>.

A chunk is written to a temporary name, fsynced, renamed into place and its directory
fsynced (datadir.write_atomically), so after a crash a chunk file is absent or whole. Writers verify the hash
before storing; readers trust the file name (the receiving side verifies again: end to
end). The set of held hashes is kept in memory, loaded once at start-up. Which chunks
no manifest needs any more is the media service's decision; `remove` only does it.
"""

from pathlib import Path

from protocol import limits

from ..datadir import write_atomically


class ChunkStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._held: set[bytes] = set()
        for sub in root.iterdir():
            if sub.is_dir():
                for f in sub.iterdir():
                    if len(f.name) == 64 and not f.name.startswith("."):
                        self._held.add(bytes.fromhex(f.name))
                    elif f.name.endswith(".tmp"):
                        f.unlink(missing_ok=True)  # a write interrupted by a crash

    def path(self, chunk_hash: bytes) -> Path:
        name = chunk_hash.hex()
        return self.root / name[:2] / name

    def has(self, chunk_hash: bytes) -> bool:
        return chunk_hash in self._held

    def count(self, hashes: tuple[bytes, ...]) -> int:
        return sum(1 for h in hashes if h in self._held)

    def hashes(self) -> set[bytes]:
        """A copy of the held set."""
        return set(self._held)

    def put(self, chunk_hash: bytes, data: bytes) -> bool:
        """Store a chunk durably; True if it was new. The caller has hashed it: the
        Chunker on upload, verify_chunk on fetch (hashing each chunk a second time here
        showed in bench_media's profile)."""
        assert len(data) <= limits.chunk_bytes_max
        if chunk_hash in self._held:
            return False
        final = self.path(chunk_hash)
        final.parent.mkdir(exist_ok=True)
        write_atomically(final, data)
        self._held.add(chunk_hash)
        return True

    def remove(self, chunk_hash: bytes) -> None:
        """Forget the chunk first, then unlink it: a reader racing us sees it absent."""
        self._held.discard(chunk_hash)
        self.path(chunk_hash).unlink(missing_ok=True)

    def get(self, chunk_hash: bytes) -> bytes | None:
        if chunk_hash not in self._held:
            return None
        try:
            return self.path(chunk_hash).read_bytes()
        except FileNotFoundError:
            self._held.discard(chunk_hash)
            return None
