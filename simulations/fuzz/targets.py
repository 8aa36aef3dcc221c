"""The fuzz targets: name -> (decoder taking bytes, its documented error family, seeds).

Rules:
- Each target hands its bytes to the decoder as the node does: the network decoders
  (entries, sync messages, gossip frames, chunk requests, responses and frames) and the document
  importers (CAP, EDXL-DE, EMSI, CoT, MSEL) take them as they arrive; the file decoders
  (genesis.json, dial.json, config.toml) read them through their path's `read_text`,
  here served from memory (`_File`) exactly as Path.read_text decodes a file.
- `entry` is the network path, signature included, so a mutated entry mostly stops at
  the signature. `entry_content` fuzzes what a member's key signs: the content goes into
  an envelope decoded with verify=False (the store's own path; the check skipped is the
  one a key holder passes anyway), so the fields and bodies behind the signature are
  reached (governance entries among them). `manifest`, `profile` and `proposal` are
  three of those bodies decoded alone.
- `sync_receive` applies a message to a fresh replica holding a log (fork descent,
  wants, proofs); `chunk_frame` takes the chunk length the manifest gives as its first
  seeds.LENGTH_BYTES bytes.
"""

import io
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, cast

from bridges import cap, cot, edxl, emsi
from bridges.model import NotAnIncident
from bridges.xml import XmlRefused
from exercise import msel
from node.config import Config, ConfigError
from node.datadir import DataDir, DataDirError
from protocol import cbor, entry, limits
from protocol.body import Media, Profile
from protocol.charter import Proposal
from protocol.errors import ProtocolError
from protocol.gossip import decode_frame as decode_gossip_frame
from protocol.media import decode_frame
from protocol.memory_store import MemoryStore
from protocol.replica import Replica
from protocol.sync import SyncState, decode_message, receive_message
from protocol.transfer import decode_request, decode_response

from . import documents, seeds


class Target(NamedTuple):
    call: Callable[[bytes], object]
    expected: tuple[type[BaseException], ...]
    seeds: Callable[[], list[bytes]]


class _File:
    """A file's bytes behind the methods the file decoders call on their path."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read_text(self) -> str:
        """As Path.read_text on this machine: UTF-8 (PEP 538/540), universal newlines."""
        return io.TextIOWrapper(io.BytesIO(self._data), encoding="utf-8").read()

    def exists(self) -> bool:
        return True

    def __str__(self) -> str:
        return "<fuzzed file>"


def _entry(data: bytes) -> object:
    return entry.decode(data, seeds.ROSTER)


def _entry_content(data: bytes) -> object:
    return entry.decode(cbor.encode([data, bytes(64)]), seeds.ROSTER, verify=False)


def _manifest(data: bytes) -> object:
    return Media.from_cbor(cbor.decode(data, limits.entry_bytes_max))


def _profile(data: bytes) -> object:
    return Profile.from_cbor(cbor.decode(data, limits.entry_bytes_max))


def _sync_receive(data: bytes) -> object:
    log = list(seeds.chain())
    store = MemoryStore()
    store.put(log, [], [], log[-1].hlc)
    replica = Replica(store, seeds.ROSTER, seeds.PEER)
    replica.restore(log, [])
    return receive_message(replica, SyncState(), data, seeds.NOW_MS, "fuzz")


def _chunk_frame(data: bytes) -> object:
    return decode_frame(data[seeds.LENGTH_BYTES :], int.from_bytes(data[: seeds.LENGTH_BYTES], "big"))


def _proposal(data: bytes) -> object:
    return Proposal.from_cbor(cbor.decode(data, limits.entry_bytes_max))


def _genesis(data: bytes) -> object:
    datadir = DataDir(Path("/nonexistent"))
    datadir.genesis_path = cast(Path, _File(data))
    return datadir.genesis()


def _dial(data: bytes) -> object:
    datadir = DataDir(Path("/nonexistent"))
    datadir.dial_path = cast(Path, _File(data))
    return datadir.dial()


def _config(data: bytes) -> object:
    return Config.load(cast(Path, _File(data)))


def _msel(data: bytes) -> object:
    return msel.parse(data, documents.MSEL_FILES)


_PROTOCOL = (ProtocolError,)
_XML = (XmlRefused,)
TARGETS: dict[str, Target] = {
    "entry": Target(_entry, _PROTOCOL, seeds.entries),
    "entry_content": Target(_entry_content, _PROTOCOL, seeds.contents),
    "manifest": Target(_manifest, _PROTOCOL, seeds.manifests),
    "profile": Target(_profile, _PROTOCOL, seeds.profiles),
    "sync_message": Target(decode_message, _PROTOCOL, seeds.sync_messages),
    "sync_receive": Target(_sync_receive, _PROTOCOL, seeds.sync_messages),
    "gossip_frame": Target(decode_gossip_frame, _PROTOCOL, seeds.gossip_frames),
    "chunk_request": Target(decode_request, _PROTOCOL, seeds.chunk_requests),
    "chunk_response": Target(decode_response, _PROTOCOL, seeds.chunk_responses),
    "chunk_frame": Target(_chunk_frame, _PROTOCOL, seeds.chunk_frames),
    "proposal": Target(_proposal, _PROTOCOL, seeds.proposals),
    "genesis": Target(_genesis, (DataDirError,), seeds.geneses),
    "dial": Target(_dial, (DataDirError,), seeds.dials),
    "config": Target(_config, (ConfigError,), seeds.configs),
    "cap": Target(cap.import_document, _XML, documents.caps),
    "edxl": Target(edxl.import_document, _XML, documents.edxls),
    "emsi": Target(emsi.import_document, _XML, documents.emsis),
    "cot": Target(cot.import_document, (XmlRefused, NotAnIncident), documents.cots),
    "msel": Target(_msel, (msel.MselError,), documents.msels),
}
