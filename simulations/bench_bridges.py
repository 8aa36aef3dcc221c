"""Standards bridges' figures (issue 13), on one core, in one run.

    python -m simulations.bench_bridges [--incidents N] [--json FILE]

For each format (CAP 1.2, EDXL-DE 2.0 with a CAP payload, EMSI, CoT): exports and
imports per second of CPU time over N varied incidents, and bytes per incident; beside
them, the reference measured in the same run: the API's own JSON encoding of the same
incidents (json.dumps) and parsing it back (json.loads), as ratios.
"""

import argparse
import json
import time
from collections.abc import Callable

from bridges import cap, cot, edxl, emsi
from bridges.model import Context, Incident

from .federation import emit

CATEGORIES = ["cbrne", "manhunt", "crowd", "terrorism", "other"]
SEVERITIES = ["low", "medium", "high", "critical"]
STATUSES = ["open", "monitoring", "resolved", "closed"]


def incidents(count: int) -> list[Incident]:
    out: list[Incident] = []
    for i in range(count):
        at = f"2026-12-02T10:{i % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z"
        out.append(
            {
                "id": f"{i:064x}",
                "title": f"Suspect vehicle seen at border crossing {i}",
                "description": "Dark Skoda Octavia, two occupants; CZ plates (fictional). " * (1 + i % 4),
                "category": CATEGORIES[i % 5],  # type: ignore[typeddict-item]
                "severity": SEVERITIES[i % 4],  # type: ignore[typeddict-item]
                "status": STATUSES[i % 4],  # type: ignore[typeddict-item]
                "location": {"lat": 50.0755 + i * 1e-4, "lon": 14.4378, "place": "Prague"},
                "tags": ["vehicle", f"t{i % 7}"],
                "exercise": "Manhunt drill" if i % 3 == 0 else None,
                "created_at": "2026-12-02T10:00:00.000Z",
                "updated_at": at,
                "author": {
                    "name": "OC Czechia",
                    "country": "CZ",
                    "peer_id": "12D3KooWExample",
                    "public_key": "00" * 32,
                },
                "operator": "Jana Novák",
                "comments": [],
                "media": [],
                "origin": None,
            }
        )
    return out


def per_second(action: Callable[[int], object], count: int) -> float:
    started = time.process_time()
    for i in range(count):
        action(i)
    return count / (time.process_time() - started)


def measure(count: int) -> dict[str, object]:
    ctx = Context("OC Czechia", "CZ", "12D3KooWExample", "http://127.0.0.1:8700/v1/media", 1_796_220_000_000)
    items = incidents(count)
    json_docs = [json.dumps(i).encode() for i in items]
    reference = {
        "export_per_s": per_second(lambda i: json.dumps(items[i]), count),
        "import_per_s": per_second(lambda i: json.loads(json_docs[i]), count),
        "bytes_per_incident": sum(map(len, json_docs)) / count,
    }
    formats: dict[str, tuple[Callable[[Incident, Context], bytes | None], Callable[[bytes], object]]] = {
        "cap": (cap.export, cap.import_document),
        "edxl-de": (edxl.export, edxl.import_document),
        "emsi": (emsi.export, emsi.import_document),
        "cot": (cot.export, cot.import_document),
    }
    out: dict[str, object] = {"incidents": count, "reference_json": reference}
    for name, (export, import_) in formats.items():
        docs: list[bytes] = []
        export_rate = per_second(lambda i, e=export, d=docs: d.append(e(items[i], ctx) or b""), count)
        import_rate = per_second(lambda i, m=import_, d=docs: m(d[i]), count)
        out[name] = {
            "export_per_s": round(export_rate),
            "import_per_s": round(import_rate),
            "bytes_per_incident": round(sum(map(len, docs)) / count),
            "export_ratio_to_json": round(export_rate / reference["export_per_s"], 4),
            "import_ratio_to_json": round(import_rate / reference["import_per_s"], 4),
            "bytes_ratio_to_json": round(sum(map(len, docs)) / count / reference["bytes_per_incident"], 2),
        }
    reference.update({k: round(v) for k, v in reference.items()})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=2000)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    emit(measure(args.incidents), args.json)


if __name__ == "__main__":
    main()
