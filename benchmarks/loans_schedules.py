"""Loans: 100,000 approved loans × 36 monthly installments (3.6 M rows) into PostgreSQL.

Three ways, in one run, on a fresh database created through the admin URL:

* ``ours``: the ``operations/cuotas`` asset (``dg.materialize`` after a warm-up run: batches of 1,000
  loans, one transaction each — read the page and the schedules it already has, reconcile, streamed
  COPY —, then the set-based status refresh and the metadata queries);
* ``old``: the old style: a per-loan loop with SQLAlchemy ORM inserts and a commit per loan, on 2,000 loans,
  scaled linearly to the full portfolio;
* ``copy``: a bare ``COPY`` of the same 3.6 M rows, prepared beforehand in a file (the floor: the database's
  own write cost, with the same table, indexes and foreign key).

Each is measured in its own child process so its peak memory (``ru_maxrss``) is its own. After ``ours``,
``rerun`` times the same asset again on the full table: every stored schedule is read back and compared
with the engine's, and nothing is written (the daily sweep's cost).

    cd benchmarks && ../.venv/bin/python loans_schedules.py [--loans 100000] [--old-loans 2000]

Targets (issues 3 and 17): ours ≥ 20× faster than the old style, ≤ 1.35× the bare COPY, peak memory < 1 GB.
``CARTERA_BENCH_PG_URL`` overrides the admin URL (default: the local server, user postgres).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ADMIN_URL = os.environ.get("CARTERA_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
AS_OF = dt.date(2026, 11, 21)
RESULTS = Path(__file__).resolve().parent / "results"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _loans(n: int, seed: int = 3) -> list[dict[str, object]]:
    rng = random.Random(seed)
    methods = ["FRANCESA", "ALEMANA", "AMERICANA"]
    return [
        {
            "id": i,
            "total_financiamiento": Decimal(rng.randrange(100_000_000, 5_000_000_000)) / 100,
            "numero_cuotas": 36,
            "tasa_interes": Decimal(rng.randrange(1_000, 3_600)) / 100,
            "modalidad_pago": "MENSUAL",
            "metodo_amortizacion": methods[i % 3],
            "fecha_base_calculo": dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(0, 1_000)),
            "estado": "APROBADO",
        }
        for i in range(1, n + 1)
    ]


def setup(url: str, loans: int) -> None:
    from cartera_pipelines.defs.loans.tables import cuotas, prestamos
    from cartera_pipelines.lib.bulk import insert_rows
    from cartera_pipelines.sandbox.db import recreate_tables

    engine = recreate_tables(url, [prestamos, cuotas])
    with engine.begin() as conn:
        insert_rows(conn, prestamos, _loans(loans))
        conn.execute(sa.text("ANALYZE prestamos"))
    engine.dispose()


def truncate(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE cuotas RESTART IDENTITY"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE cuotas"))
    engine.dispose()


def count(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM cuotas")).scalar_one()
    engine.dispose()
    return int(n)


# ---- the three phases (each runs in a child process) ----------------------------------------------------


def phase_ours(url: str, rerun: bool = False) -> dict[str, float]:
    import dagster as dg

    from cartera_pipelines.defs.loans import assets
    from cartera_pipelines.defs.loans.config import CuotasConfig
    from cartera_pipelines.resources import SqlDatabase

    # Warm Dagster up first (lazy imports, the ephemeral instance): a code server is already warm when a
    # run starts, and these seconds are not schedule generation.
    @dg.asset
    def warm_up() -> None:
        return None

    dg.materialize([warm_up])
    cpu_started = time.process_time()
    started = time.perf_counter()
    result = dg.materialize(
        [assets.prestamos_source, assets.operations_cuotas],
        resources={"operations_db": SqlDatabase(url=url)},
        run_config=dg.RunConfig(
            ops={assets.operations_cuotas.op.name: CuotasConfig(as_of=AS_OF.isoformat())}
        ),
    )
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    assert result.success
    [event] = result.get_asset_materialization_events()
    written = event.materialization.metadata["installments_written"].value
    assert (written == 0) if rerun else (written > 0)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": _peak_mb()}


def phase_old(url: str, loans: int) -> dict[str, float]:
    """The old generator's shape: for each loan, ORM objects added to a session and one commit."""
    from sqlalchemy.orm import Session, registry

    from cartera_pipelines.defs.loans.amortization import schedule
    from cartera_pipelines.defs.loans.tables import cuotas, prestamos
    from cartera_pipelines.defs.loans.terms import parse_terms

    class Prestamo:
        pass

    class Cuota:
        def __init__(self, **kwargs: object) -> None:
            for key, value in kwargs.items():
                setattr(self, key, value)

    mapper = registry()
    mapper.map_imperatively(Prestamo, prestamos)
    mapper.map_imperatively(Cuota, cuotas)
    engine = sa.create_engine(url)
    zero = Decimal("0.00")
    started = time.perf_counter()
    with Session(engine) as session:
        for loan_id in range(1, loans + 1):
            loan = session.get(Prestamo, loan_id)
            existing = session.query(Cuota).filter(Cuota.prestamo_id == loan_id).count()
            if existing:
                continue
            terms = parse_terms(
                loan.total_financiamiento,
                loan.tasa_interes,
                loan.numero_cuotas,
                loan.modalidad_pago,
                loan.metodo_amortizacion,
                loan.fecha_base_calculo,
            )
            for i in schedule(terms):  # type: ignore[arg-type]
                session.add(
                    Cuota(
                        prestamo_id=loan_id,
                        numero_cuota=i.numero_cuota,
                        fecha_vencimiento=i.fecha_vencimiento,
                        monto_cuota=i.monto_cuota,
                        monto_capital=i.monto_capital,
                        monto_interes=i.monto_interes,
                        saldo_capital_inicial=i.saldo_capital_inicial,
                        saldo_capital_final=i.saldo_capital_final,
                        capital_pagado=zero,
                        interes_pagado=zero,
                        mora_pagada=zero,
                        total_pagado=zero,
                        capital_pendiente=i.monto_capital,
                        interes_pendiente=i.monto_interes,
                        estado="ATRASADO" if i.fecha_vencimiento < AS_OF else "PENDIENTE",
                    )
                )
            session.commit()
            session.expunge_all()
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "peak_mb": _peak_mb()}


def phase_copy(url: str, loans: int) -> dict[str, float]:
    """Prepare the same rows as CSV in a file (untimed), then time one bare COPY of it."""
    import csv

    from cartera_pipelines.defs.loans.amortization import schedule_cents
    from cartera_pipelines.defs.loans.sql import installment_rows
    from cartera_pipelines.defs.loans.terms import LoanTerms, parse_terms

    columns: list[str] = []
    with tempfile.NamedTemporaryFile("w+", suffix=".csv", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for loan in _loans(loans):
            terms = parse_terms(
                loan["total_financiamiento"],
                loan["tasa_interes"],
                loan["numero_cuotas"],
                loan["modalidad_pago"],
                loan["metodo_amortizacion"],
                loan["fecha_base_calculo"],
            )
            assert isinstance(terms, LoanTerms)
            for row in installment_rows(int(loan["id"]), terms, schedule_cents(terms), AS_OF):
                columns = columns or list(row)
                writer.writerow(row.values())
        handle.flush()
        handle.seek(0)
        engine = sa.create_engine(url)
        raw = engine.raw_connection()
        started = time.perf_counter()
        with raw.cursor() as cursor:
            cursor.copy_expert(f"COPY cuotas ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", handle)
        raw.commit()
        seconds = time.perf_counter() - started
        raw.close()
        engine.dispose()
    return {"seconds": seconds, "peak_mb": _peak_mb()}


def _child(phase: str, url: str, loans: int) -> dict[str, float]:
    output = subprocess.run(
        [sys.executable, __file__, "--phase", phase, "--url", url, "--loans", str(loans)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loans", type=int, default=100_000)
    parser.add_argument("--old-loans", type=int, default=2_000)
    parser.add_argument("--phase", choices=["ours", "rerun", "old", "copy"])
    parser.add_argument("--url")
    args = parser.parse_args()
    if args.phase:
        run = {
            "ours": lambda: phase_ours(args.url),
            "rerun": lambda: phase_ours(args.url, rerun=True),
            "old": lambda: phase_old(args.url, args.loans),
            "copy": lambda: phase_copy(args.url, args.loans),
        }[args.phase]
        print(json.dumps(run()))
        return

    name = f"cartera_bench_loans_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    rows = args.loans * 36
    try:
        print(f"database {name}: {args.loans:,} approved loans × 36 monthly installments = {rows:,} rows")
        setup(url, args.loans)
        copy = _child("copy", url, args.loans)
        assert count(url) == rows
        print(f"bare COPY      {copy['seconds']:8.1f} s  ({rows / copy['seconds']:,.0f} rows/s)")
        truncate(url)
        old = _child("old", url, args.old_loans)
        assert count(url) == args.old_loans * 36
        old_scaled = old["seconds"] * args.loans / args.old_loans
        print(
            f"old style      {old['seconds']:8.1f} s for {args.old_loans:,} loans → {old_scaled:,.0f} s scaled"
        )
        truncate(url)
        ours = _child("ours", url, args.loans)
        assert count(url) == rows
        print(
            f"ours           {ours['seconds']:8.1f} s  ({rows / ours['seconds']:,.0f} rows/s), "
            f"peak {ours['peak_mb']:,.0f} MB, {ours['cpu_seconds']:.1f} s CPU in the run's process"
        )
        rerun = _child("rerun", url, args.loans)
        print(
            f"rerun          {rerun['seconds']:8.1f} s  (every schedule read back and reconciled, nothing written)"
        )
        figures = {
            "loans": args.loans,
            "rows": rows,
            "ours_seconds": round(ours["seconds"], 2),
            "ours_peak_mb": round(ours["peak_mb"], 1),
            "ours_cpu_seconds": round(ours["cpu_seconds"], 2),
            "rerun_seconds": round(rerun["seconds"], 2),
            "rerun_peak_mb": round(rerun["peak_mb"], 1),
            "copy_seconds": round(copy["seconds"], 2),
            "old_seconds_measured": round(old["seconds"], 2),
            "old_loans_measured": args.old_loans,
            "old_seconds_scaled": round(old_scaled, 1),
            "speedup_vs_old": round(old_scaled / ours["seconds"], 1),
            "ratio_to_copy": round(ours["seconds"] / copy["seconds"], 2),
            "cpu_count": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "measured_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        print(
            f"speed-up vs old style: {figures['speedup_vs_old']}× (target ≥ 20×); "
            f"ours / bare COPY: {figures['ratio_to_copy']}× (target ≤ 1.35×); "
            f"peak {figures['ours_peak_mb']:,.0f} MB (target < 1024 MB)"
        )
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "loans_schedules.json").write_text(json.dumps(figures, indent=2) + "\n")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


if __name__ == "__main__":
    main()
