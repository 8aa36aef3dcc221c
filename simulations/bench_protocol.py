"""Protocol core figures (issue 2), measured on one core in one run.

    python -m simulations.bench_protocol [--entries N] [--json FILE]

- encode+sign and decode+verify rates, each as a ratio of the raw PyNaCl verify rate
  measured in the same run (the physical limit for decode+verify);
- fold time of one incident with 10,000 entries;
- sync bytes and round trips to reconcile two replicas of 100,000 entries that differ by
  1,000, against the size of the 1,000 missing entries.
"""

import argparse
import json
import time
from collections.abc import Callable

import cbor2
import nacl.signing

from protocol.body import Comment
from protocol.entry import ENTRY_DOMAIN, Entry, create, decode
from protocol.hlc import pack
from protocol.incident import fold
from protocol.memory_store import MemoryStore
from protocol.replica import Replica
from protocol.sync import run_session
from tests.protocol.factories import NOW_MS, open_body, roster_of


def rate(action: Callable[[int], object], count: int) -> float:
    started = time.process_time()
    for i in range(count):
        action(i)
    return count / (time.process_time() - started)


def crypto_rates(count: int) -> dict[str, float]:
    ids, roster = roster_of(1)
    opening = create(ids[0], 1, None, pack(NOW_MS, 0), open_body())
    bodies = [Comment(opening.id, f"Suspect vehicle seen at border crossing {i}, heading north") for i in range(count)]
    entries: list[Entry] = []
    sign_rate = rate(lambda i: entries.append(create(ids[0], i + 2, opening.id, pack(NOW_MS, i), bodies[i])), count)
    blobs = [e.signed for e in entries]
    decode_rate = rate(lambda i: decode(blobs[i], roster), count)
    key = nacl.signing.VerifyKey(ids[0].public_key)
    signed = [(ENTRY_DOMAIN + content, signature) for content, signature in map(cbor2.loads, blobs)]
    raw_rate = rate(lambda i: key.verify(*signed[i]), count)
    return {
        "entry_bytes_mean": sum(map(len, blobs)) / count,
        "raw_verify_per_s": raw_rate,
        "encode_sign_per_s": sign_rate,
        "decode_verify_per_s": decode_rate,
        "encode_sign_ratio_to_raw_verify": sign_rate / raw_rate,
        "decode_verify_ratio_to_raw_verify": decode_rate / raw_rate,
    }


def fold_time(count: int) -> dict[str, float]:
    ids, _ = roster_of(4)
    opening = create(ids[0], 1, None, pack(NOW_MS, 0), open_body())
    entries = [opening]
    for i in range(count - 1):
        author = ids[i % 4]
        entries.append(create(author, i + 2, bytes(32), pack(NOW_MS + i, 0), Comment(opening.id, f"comment {i}")))
    started = time.process_time()
    state = fold(entries, opening.id)
    state.view()
    return {"fold_entries": count, "fold_s": time.process_time() - started}


def sync_figures(held: int, differ: int, authors: int = 10) -> dict[str, float]:
    """Two replicas hold `held` entries each; each lacks differ/2 of the other's.

    Authors' logs end differently on each side: for half the authors A holds the last
    entries and B lacks them, for the other half the reverse, as after a partition.
    """
    ids, roster = roster_of(authors)
    writers = [Replica(MemoryStore(), roster, i) for i in ids]
    incident = writers[0].write(open_body(), NOW_MS).id
    per_author = (held + differ // 2) // authors
    for n in range(per_author * authors - 1):
        writers[(n + 1) % authors].write(Comment(incident, f"Situation report {n} from the scene"), NOW_MS)
    a, b = Replica(MemoryStore(), roster), Replica(MemoryStore(), roster)
    tail = differ // authors
    missing_bytes = 0
    for w, writer in enumerate(writers):
        log = writer.store.chained[ids[w].public_key]
        only = a if w < authors // 2 else b
        for e in log[:-tail]:
            a.receive(e, NOW_MS)
            b.receive(e, NOW_MS)
        for e in log[-tail:]:
            only.receive(e, NOW_MS)
            missing_bytes += len(e.signed)
    held_a = sum(s for s, _ in a.log.heads().values())
    stats = run_session(a, b, NOW_MS)
    assert a.log.heads() == b.log.heads()
    return {
        "sync_entries_held_per_replica": held_a,
        "sync_missing_entries": tail * authors,
        "sync_missing_bytes": missing_bytes,
        "sync_bytes": stats.bytes,
        "sync_messages": stats.messages,
        "sync_round_trips": stats.round_trips,
        "sync_bytes_ratio": stats.bytes / missing_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=20_000, help="entries for the crypto rates")
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    figures = {**crypto_rates(args.entries), **fold_time(10_000), **sync_figures(100_000, 1_000)}
    for name, value in figures.items():
        print(f"{name:40s} {value:14.3f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
