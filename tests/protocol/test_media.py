import contextlib
import os
import resource

import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from protocol import limits
from protocol.errors import BadChunk, InvalidField
from protocol.media import CODEC_RAW, CODEC_ZSTD, Chunker, decode_frame, encode_frame, verify_chunk


def chunked(data: bytes, chunk_size: int, pieces: int = 3):
    chunker = Chunker(chunk_size)
    step = max(1, len(data) // pieces)
    pairs = [p for i in range(0, len(data), step) for p in chunker.feed(data[i : i + step])]
    tail, manifest = chunker.finish(b"\x01" * 32, "cctv.mp4", "video/mp4")
    return [chunk for _, chunk in pairs + tail], manifest


@given(st.binary(min_size=1, max_size=5000), st.integers(1, 700))
def test_chunks_fed_in_any_pieces_rebuild_the_file_and_verify(data, chunk_size):
    chunks, manifest = chunked(data, chunk_size)
    assert b"".join(chunks) == data
    assert manifest.size == len(data) and len(manifest.chunks) == len(chunks)
    for i, chunk in enumerate(chunks):
        verify_chunk(manifest, i, chunk)


def test_a_chunk_that_does_not_match_its_hash_is_refused():
    chunks, manifest = chunked(os.urandom(3000), 1000)
    with pytest.raises(BadChunk):
        verify_chunk(manifest, 1, chunks[0])
    with pytest.raises(BadChunk):
        verify_chunk(manifest, 3, chunks[0])


@given(st.binary(max_size=3000) | st.text(max_size=2000).map(str.encode))
def test_frames_round_trip_and_are_compressed_only_when_smaller(chunk):
    frame = encode_frame(chunk)
    assert len(frame) <= len(chunk) + 1
    assert frame[0] in (CODEC_RAW, CODEC_ZSTD)
    assert decode_frame(frame, len(chunk)) == chunk


def test_random_bytes_are_sent_raw_and_text_compressed():
    assert encode_frame(os.urandom(10_000))[0] == CODEC_RAW
    assert encode_frame(b"sensor reading 0.3 uSv/h\n" * 400)[0] == CODEC_ZSTD
    # Whole chunks: the sample decides for random data, text still shrinks.
    assert encode_frame(os.urandom(1024 * 1024))[0] == CODEC_RAW
    assert encode_frame(b"sensor reading 0.3 uSv/h\n" * 40_000)[0] == CODEC_ZSTD


def peak_rss_growth_kib(action) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    action()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before


def test_a_zstd_bomb_is_refused_without_decompressing_it():
    bomb = bytes([CODEC_ZSTD]) + zstandard.ZstdCompressor(level=19).compress(b"\0" * (512 * 1024 * 1024))
    assert len(bomb) < 64 * 1024

    def attempt():
        with pytest.raises(BadChunk):
            decode_frame(bomb, limits.chunk_bytes_max)

    assert peak_rss_growth_kib(attempt) < 64 * 1024


def test_a_frame_that_hides_its_size_or_lies_about_it_is_refused():
    data = b"x" * 100_000
    hidden = zstandard.ZstdCompressor(write_content_size=False).compress(data)
    with pytest.raises(BadChunk):
        decode_frame(bytes([CODEC_ZSTD]) + hidden, len(data))
    with pytest.raises(BadChunk):
        decode_frame(encode_frame(data), len(data) - 1)
    with pytest.raises(BadChunk):
        decode_frame(bytes([7]) + data, len(data))
    with pytest.raises(BadChunk):
        decode_frame(b"", 0)


def test_a_frame_demanding_a_huge_window_is_refused():
    # Hand-made frame: content size 100, window descriptor asking for 1 GiB, one raw block.
    data = b"x" * 100
    header = bytes.fromhex("28b52ffd") + bytes([0x80, 20 << 3]) + len(data).to_bytes(4, "little")
    frame = bytes([CODEC_ZSTD]) + header + ((len(data) << 3) | 1).to_bytes(3, "little") + data
    assert zstandard.get_frame_parameters(frame[1:]).window_size == 1 << 30
    with pytest.raises(BadChunk, match="window"):
        decode_frame(frame, len(data))


def zstd_frame(chunk: bytes) -> bytes:
    return zstandard.ZstdCompressor(write_content_size=True).compress(chunk)


# RFC 8878 §3.1.2: magic 0x184D2A50 (little-endian), a 4-byte length, that many user bytes.
SKIPPABLE = (0x184D2A50).to_bytes(4, "little") + (3).to_bytes(4, "little") + b"abc"


@given(st.binary(min_size=1, max_size=3000), st.binary(min_size=1, max_size=64))
def test_a_zstd_frame_followed_by_any_bytes_is_refused(chunk, trailing):
    frame = bytes([CODEC_ZSTD]) + zstd_frame(chunk)
    assert decode_frame(frame, len(chunk)) == chunk
    with pytest.raises(BadChunk):
        decode_frame(frame + trailing, len(chunk))


@given(st.binary(min_size=1, max_size=3000))
def test_a_payload_is_exactly_one_zstd_frame_not_two_nor_a_skippable_one_nor_a_part(chunk):
    one = zstd_frame(chunk)
    for payload in (one + one, one + zstd_frame(b""), one + SKIPPABLE, SKIPPABLE + one, SKIPPABLE, one[:-1]):
        with pytest.raises(BadChunk):
            decode_frame(bytes([CODEC_ZSTD]) + payload, len(chunk))


@given(st.binary(max_size=300))
def test_random_frames_only_raise_bad_chunk(frame):
    with contextlib.suppress(BadChunk):
        decode_frame(frame, 1000)


def test_a_file_over_the_media_limit_is_refused_while_streaming():
    chunker = Chunker()
    chunker.size = limits.media_bytes_max
    with pytest.raises(BadChunk):
        chunker.feed(b"x")


def test_a_manifest_whose_chunk_count_disagrees_with_its_size_is_invalid():
    _, manifest = chunked(os.urandom(2500), 1000)
    from dataclasses import replace

    with pytest.raises(InvalidField):
        replace(manifest, size=5000)
