"""Benchmark: the daily overdue batch (``operations/facturas_vencidas``) over 1,000,000 invoices in PostgreSQL.

The data is loaded server-side with ``INSERT … SELECT generate_series`` into a fresh database
``cartera_bench_factoring_overdue`` (recreated every invocation, so each run does the same work):
10,000 clients, ``--invoices`` invoices spread over every state, due dates spread over a year around
``as_of`` so that about 30% of them become overdue. Then the asset runs through ``dg.materialize``
(the set-based UPDATE + INSERT … SELECT in one transaction), then once more (idempotent: nothing to do).

    cd benchmarks && ../.venv/bin/python factoring_overdue.py [--invoices 1000000]

Results go to ``benchmarks/results/factoring_overdue.json``. Server: CARTERA_BENCH_PG_URL (admin URL;
default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("CARTERA_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")

from cartera_pipelines_tests import engines

AS_OF = dt.date(2026, 3, 9)
TARGET_SECONDS = 20.0


def load(url: str, invoices: int) -> dict[str, float]:
    from cartera_pipelines.defs.factoring import tables
    from cartera_pipelines.sandbox.db import recreate_tables

    engine = recreate_tables(url, tables.OPERATIONS_TABLES)
    started = time.perf_counter()
    with engine.begin() as conn:
        tables.apply_storage_options(conn)
        conn.execute(
            sa.text(
                "INSERT INTO clientes (id, rut, razon_social, linea_credito, linea_disponible, estado, created_at) "
                "SELECT g, '76.086.428-5', 'Cliente ' || g, 100000000, 100000000, 'activo', now() "
                "FROM generate_series(1, 10000) AS g"
            )
        )
        # States by id: 0-3,9 disponible, 4 en_proceso, 5 cedida, 6 pagada, 7 anulada, 8 vencida;
        # due dates over a year centred on as_of (half of them past due).
        conn.execute(
            sa.text(
                "INSERT INTO facturas (id, cliente_id, numero_factura, rut_deudor, monto_total, fecha_emision, "
                "fecha_vencimiento, estado, updated_at) "
                "SELECT g, 1 + g % 10000, 'F' || g, '12.345.678-5', 100000 + (g % 997) * 1000.25, "
                ":as_of - 200 + ((g::bigint * 7919) % 360)::int, :as_of - 180 + ((g::bigint * 7919) % 360)::int, "
                "(ARRAY['disponible','disponible','disponible','disponible','en_proceso','cedida','pagada',"
                "'anulada','vencida','disponible'])[1 + g % 10], now() "
                "FROM generate_series(1, :n) AS g"
            ),
            {"as_of": AS_OF, "n": invoices},
        )
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('facturas', 'id'), :n)"), {"n": invoices})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE facturas"))
    loaded = time.perf_counter() - started
    engine.dispose()
    return {"load_seconds": round(loaded, 2)}


def run_batch(url: str) -> tuple[float, dict]:
    import dagster as dg

    from cartera_pipelines.defs.factoring.assets import facturas_vencidas
    from cartera_pipelines.defs.factoring.config import OverdueConfig
    from cartera_pipelines.resources.database import SqlDatabase

    db = SqlDatabase(url=url, store="operations")
    started = time.perf_counter()
    result = dg.materialize(
        [facturas_vencidas],
        resources={"operations_db": db},
        run_config=dg.RunConfig(ops={facturas_vencidas.op.name: OverdueConfig(as_of=AS_OF.isoformat())}),
    )
    elapsed = time.perf_counter() - started
    step = next(
        e.event_specific_data.duration_ms / 1000  # type: ignore[union-attr]
        for e in result.all_events
        if e.event_type_value == "STEP_SUCCESS"
    )
    md = result.asset_materializations_for_node(facturas_vencidas.op.name)[0].metadata
    db.dispose()
    return elapsed, {"step_seconds": round(step, 2), "marked": md["facturas_marcadas"].value}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    args = parser.parse_args()
    # a throwaway database on the test server (engines.py), dropped even when the run fails
    with engines.ServerDatabase(PG_ADMIN, "PostgreSQL (CARTERA_BENCH_PG_URL)") as url:
        measure(url, args.invoices)


def measure(url: str, invoices: int) -> None:
    figures: dict[str, object] = {"invoices": invoices, "as_of": AS_OF.isoformat()}
    print(f"loading {invoices:,} invoices into PostgreSQL …", flush=True)
    figures |= load(url, invoices)
    print(f"  loaded in {figures['load_seconds']} s", flush=True)
    wall, first = run_batch(url)
    figures |= {
        "batch_wall_seconds": round(wall, 2),
        "batch_step_seconds": first["step_seconds"],
        "marked_vencida": first["marked"],
    }
    print(
        f"batch: {first['marked']:,} invoices marked vencida; step {first['step_seconds']} s "
        f"(target < {TARGET_SECONDS:.0f} s), materialize wall {wall:.2f} s",
        flush=True,
    )
    wall2, second = run_batch(url)
    figures |= {"rerun_wall_seconds": round(wall2, 2), "rerun_marked": second["marked"]}
    print(f"re-run (idempotent): {second['marked']} marked, wall {wall2:.2f} s", flush=True)
    figures["target_seconds"] = TARGET_SECONDS
    # The target is the batch itself (the asset's step: lock, aggregate, INSERT … SELECT, UPDATE, checks);
    # the materialize wall time adds Dagster's in-process start-up and is reported next to it.
    figures["target_met"] = first["step_seconds"] < TARGET_SECONDS
    figures["load_average_1m"] = os.getloadavg()[0]
    out = Path(__file__).parent / "results" / "factoring_overdue.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
