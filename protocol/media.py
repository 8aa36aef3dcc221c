"""Media chunking, manifests and the bounded chunk framing.

Rules (SPEC.md §6):
- A file is cut into chunks of `chunk_size` bytes (the last may be shorter); each chunk is
  named by its BLAKE2b-256 hash; the manifest lists the hashes in order plus the file's
  SHA-256 (what HTTP clients see as the ETag).
- On the wire a chunk travels as a frame: one codec byte, then the payload.
  codec 0: the payload is the chunk. codec 1: the payload is exactly one zstd frame whose
  header states the content size: it starts with the zstd magic (a skippable frame is
  refused) and nothing follows it (no trailing bytes, no second frame). A sender
  compresses only when that makes the frame smaller (photos and video do not shrink; a
  64 KiB sample that does not shrink by 1/16 spares the whole chunk the attempt).
- A receiver knows the length each chunk must have (from the manifest) and refuses a frame
  whose declared size differs, that declares none, or that asks for a window beyond
  zstd_window_bytes_max, before decompressing anything. Then the hash must match.
"""

import hashlib

import zstandard

from . import limits
from .body import Media
from .errors import BadChunk
from .identity import hash32

CODEC_RAW = 0
CODEC_ZSTD = 1
ZSTD_MAGIC = bytes.fromhex("28b52ffd")  # RFC 8878 §3.1.1; skippable frames have 0x184D2A5?
_ZSTD_LEVEL = 3  # fast; the mesh is usually limited by links, not by CPU at this level
# Already-compressed media (JPEG, H.264, AAC) is most of the traffic: try a sample first.
_SAMPLE_BYTES = 64 * 1024


def encode_frame(chunk: bytes) -> bytes:
    compressor = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_content_size=True)
    if len(chunk) > _SAMPLE_BYTES:
        sample = chunk[:_SAMPLE_BYTES]
        if len(compressor.compress(sample)) > _SAMPLE_BYTES - _SAMPLE_BYTES // 16:
            return bytes([CODEC_RAW]) + chunk
    compressed = compressor.compress(chunk)
    if len(compressed) < len(chunk):
        return bytes([CODEC_ZSTD]) + compressed
    return bytes([CODEC_RAW]) + chunk


def decode_frame(frame: bytes | memoryview, length: int) -> bytes:
    """The chunk inside `frame`, which must be exactly `length` bytes; raises BadChunk."""
    if length > limits.chunk_bytes_max or not frame:
        raise BadChunk("empty frame or chunk length beyond the limit")
    codec, payload = frame[0], frame[1:]
    if codec == CODEC_RAW:
        chunk = bytes(payload)
    elif codec == CODEC_ZSTD:
        if bytes(payload[:4]) != ZSTD_MAGIC:
            raise BadChunk("not a zstd frame")
        try:
            params = zstandard.get_frame_parameters(payload)
        except zstandard.ZstdError:
            raise BadChunk("not a zstd frame") from None
        if params.content_size != length:
            raise BadChunk(f"zstd frame declares {params.content_size} bytes, chunk has {length}")
        if params.window_size > limits.zstd_window_bytes_max:
            raise BadChunk(f"zstd window of {params.window_size} bytes exceeds the limit")
        try:
            decompressor = zstandard.ZstdDecompressor(max_window_size=limits.zstd_window_bytes_max)
            # allow_extra_data=False: exactly one frame, nothing after it
            chunk = decompressor.decompress(payload, max_output_size=length, allow_extra_data=False)
        except zstandard.ZstdError as exc:
            raise BadChunk(f"zstd: {exc}") from None
    else:
        raise BadChunk(f"unknown chunk codec {codec}")
    if len(chunk) != length:
        raise BadChunk(f"chunk is {len(chunk)} bytes, manifest says {length}")
    return chunk


def verify_chunk(manifest: Media, index: int, chunk: bytes) -> None:
    if not 0 <= index < len(manifest.chunks):
        raise BadChunk(f"chunk index {index} out of range")
    if len(chunk) != manifest.chunk_length(index) or hash32(chunk) != manifest.chunks[index]:
        raise BadChunk(f"chunk {index} does not match its hash")


class Chunker:
    """Cuts a byte stream into chunks as it arrives, hashing as it goes (sans-IO)."""

    def __init__(self, chunk_size: int = limits.chunk_bytes_max) -> None:
        assert 0 < chunk_size <= limits.chunk_bytes_max
        self.chunk_size = chunk_size
        self.size = 0
        self.hashes: list[bytes] = []
        self._sha256 = hashlib.sha256()
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        """Take more of the file; returns the (hash, chunk) pairs it completed, in order."""
        self.size += len(data)
        if self.size > limits.media_bytes_max:
            raise BadChunk(f"media exceeds {limits.media_bytes_max} bytes")
        self._sha256.update(data)
        self._buffer += data
        done = []
        while len(self._buffer) >= self.chunk_size:
            done.append(self._cut(self.chunk_size))
        return done

    def _cut(self, n: int) -> tuple[bytes, bytes]:
        chunk = bytes(self._buffer[:n])
        del self._buffer[:n]
        self.hashes.append(hash32(chunk))
        return self.hashes[-1], chunk

    def finish(self, incident: bytes, name: str, mime: str) -> tuple[list[tuple[bytes, bytes]], Media]:
        """The last chunk (if any) and the manifest for the whole file."""
        tail = [self._cut(len(self._buffer))] if self._buffer else []
        manifest = Media(incident, name, mime, self.size, self.chunk_size, tuple(self.hashes), self._sha256.digest())
        return tail, manifest
