"""Contifico inventory analytics benchmark: 200,000 synced records → the five analytics assets on PostgreSQL.

    cd benchmarks && ../.venv/bin/python contifico_analytics.py [--records 200000] [--pg postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]

The records are the contifico sync benchmark's (the sandbox generator, ``counts_for_total``), stored the
way the sync stores them (``parsing.parse_page`` → ``sql.upsert_page``, child tables included) into a
fresh database, without the HTTP round trips (loading is not timed). Then one ``dg.materialize`` of the
five assets for the partition 2025-12-31 (the data's last day), timed end to end, and each asset's own
step time from the run's events. Target: all five under 30 s. Results go to
``benchmarks/results/contifico_analytics.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).resolve().parent / "results"
AS_OF = dt.date(2025, 12, 31)
CHUNK = 2000


def fresh_database(admin_url: str, name: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return str(sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False))


def load(url: str, records: int) -> dict[str, int]:
    """The sandbox's records, parsed and upserted as the sync writes them; returns records per table."""
    from cartera_pipelines.defs.contifico.catalog import CATALOG
    from cartera_pipelines.defs.contifico.parsing import parse_page
    from cartera_pipelines.defs.contifico.sql import upsert_page
    from cartera_pipelines.defs.contifico.tables import CHILD_TABLES, RESOURCE_TABLES
    from cartera_pipelines.lib.schema import ensure_schema
    from cartera_pipelines.resources.database import create_store_engine
    from cartera_pipelines.sandbox.contifico import counts_for_total, generate

    by_name = {r.name: r for r in CATALOG}
    engine = create_store_engine(url)
    ensure_schema(engine)
    now = dt.datetime.now(dt.UTC)
    counts: dict[str, int] = {}

    def resource_of(collection: str, record: dict) -> str:
        if collection == "registry_documents":
            return "sales" if record["tipo_registro"] == "CLI" else "purchases"
        return collection

    stream = ((resource_of(c.name, r), r) for c, _, r in generate(counts_for_total(records), seed=42))
    while chunk := list(islice(stream, CHUNK)):
        grouped: dict[str, list[dict]] = {}
        for name, record in chunk:
            grouped.setdefault(name, []).append(record)
        with engine.begin() as conn:
            for name, batch in grouped.items():
                resource = by_name[name]
                children = {c.name: CHILD_TABLES[c.name] for c in resource.children}
                upsert_page(conn, RESOURCE_TABLES[name], parse_page(resource, batch).records, now, children)
                counts[name] = counts.get(name, 0) + len(batch)
    engine.dispose()
    return counts


def run_assets(url: str, home: str) -> dict[str, float]:
    import dagster as dg

    from cartera_pipelines.defs.contifico.analytics import assets
    from cartera_pipelines.resources import CarteraPaths, SqlDatabase

    selected = [
        assets.contifico_sales_velocity,
        assets.contifico_stock_position,
        assets.contifico_turnover,
        assets.contifico_supplier_lead_times,
        assets.contifico_reorder_suggestions,
    ]
    resources = {"warehouse_db": SqlDatabase(url=url, store="warehouse"), "paths": CarteraPaths(home=home)}
    started = time.perf_counter()
    result = dg.materialize(selected, resources=resources, partition_key=AS_OF.isoformat())
    total = time.perf_counter() - started
    assert result.success
    steps = {
        event.step_key.removeprefix("warehouse__"): round(event.event_specific_data.duration_ms / 1000, 2)
        for event in result.all_events
        if event.event_type_value == "STEP_SUCCESS"
    }
    rows = {
        a.key.path[-1]: result.asset_materializations_for_node(a.op.name)[0]
        .metadata["dagster/row_count"]
        .value
        for a in selected
    }
    return {"seconds": round(total, 2), "steps": steps, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--pg", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    url = fresh_database(args.pg, "contifico_analytics_bench")
    started = time.perf_counter()
    counts = load(url, args.records)
    loaded = time.perf_counter() - started
    print(f"loaded {sum(counts.values()):,} records in {loaded:.1f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="contifico-analytics-") as home:
        first = run_assets(url, home)
        print(f"first run (schema check included): {first['seconds']} s {first['steps']}", flush=True)
        again = run_assets(url, home)
        print(f"re-run (replaces the slice): {again['seconds']} s {again['steps']}", flush=True)
    result = {
        "records": sum(counts.values()),
        "per_resource": counts,
        "load_seconds": round(loaded, 1),
        "as_of": AS_OF.isoformat(),
        "first_run": first,
        "rerun": again,
        "target_seconds": 30,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "contifico_analytics.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
