"""Contifico's JSON hot paths, the stdlib against what the sync uses (orjson with its fallbacks).

One page of 1,000 sandbox ``documento/`` records (seed 42, with their lines), as the simulator serves it:
decoding the body (``json.loads`` vs ``resources.contifico.decode_json``) and the canonical JSON behind
``content_hash`` (the stdlib's sorted, compact encoder vs ``parsing.canonical_json``), best of 5.

    cd benchmarks && ../.venv/bin/python contifico_codecs.py
"""

from __future__ import annotations

import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cartera_pipelines.defs.contifico.parsing import canonical_json
from cartera_pipelines.resources.contifico import decode_json
from cartera_pipelines.sandbox.contifico import write_data_file

STDLIB_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def _best(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "records.sqlite"
        write_data_file(data, scale=4, seed=42)
        conn = sqlite3.connect(data)
        bodies = [
            r[0] for r in conn.execute("SELECT body FROM records WHERE coll = 'v2/documento/' LIMIT 1000")
        ]
        conn.close()
    body = ("[" + ",".join(bodies) + "]").encode()
    records = json.loads(body)
    assert decode_json(body) == records
    assert all(canonical_json(r) == STDLIB_CANONICAL(r) for r in records)
    decode = (_best(lambda: json.loads(body)), _best(lambda: decode_json(body)))
    encode = (
        _best(lambda: [STDLIB_CANONICAL(r) for r in records]),
        _best(lambda: [canonical_json(r) for r in records]),
    )
    print(f"page: {len(records):,} records, {len(body) / 1024:,.0f} KB")
    print(
        f"decode:    json.loads {decode[0] * 1000:.1f} ms, decode_json {decode[1] * 1000:.1f} ms = {decode[0] / decode[1]:.1f}×"
    )
    print(
        f"canonical: stdlib {encode[0] * 1000:.1f} ms, canonical_json {encode[1] * 1000:.1f} ms = {encode[0] / encode[1]:.1f}×"
    )


if __name__ == "__main__":
    main()
