"""Benchmark: the daily collections assignment at production volume.

Data set (built once, reused): MariaDB database ``cartera_bench_collections`` as the lending store
(1,000,000 contracts, 5,000,000 installments: the collections sandbox at ``--scale 250``) and PostgreSQL
database ``cartera_bench_collections`` as the operations store (managements, 200,000 current
assignments with their history). The lending data is kept between invocations (``--rebuild`` reloads
it, a few minutes); the operations tables are reset before every timed run, so each run does the same
work.

Figures:
- whole run (read arrears, plan, one write transaction, reports) through ``dg.materialize`` in a fresh
  child process: wall time and the child's peak RSS;
- the old per-contract style (a SELECT and an INSERT per contract, one commit at the end) on 20,000
  contracts, scaled to the run's eligible contracts, and the speed-up.

    cd benchmarks && ../.venv/bin/python collections_assignment.py [--scale 250] [--rebuild]

Results go to ``benchmarks/results/collections_assignment.json``. Servers: CARTERA_BENCH_MYSQL_URL and
CARTERA_BENCH_PG_URL (admin URLs; default root@127.0.0.1:3306 and postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATABASE = "cartera_bench_collections"
AS_OF = dt.date(2026, 11, 21)  # the data set is dated relative to this day, so it is reusable forever
SEED = 42
OLD_STYLE_CONTRACTS = 20_000
MYSQL_ADMIN = os.environ.get("CARTERA_BENCH_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/mysql")
PG_ADMIN = os.environ.get("CARTERA_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")


def database_url(admin_url: str) -> str:
    return make_url(admin_url).set(database=DATABASE).render_as_string(hide_password=False)


def ensure_database(admin_url: str) -> None:
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE}
            ).first()
            if not exists:
                conn.execute(sa.text(f"CREATE DATABASE {DATABASE}"))
        else:
            conn.execute(sa.text(f"CREATE DATABASE IF NOT EXISTS {DATABASE}"))
    engine.dispose()


def lending_ready(url: str, contracts: int) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            n = conn.execute(sa.text("SELECT COUNT(*) FROM contract_status")).scalar_one()
            m = conn.execute(sa.text("SELECT COUNT(*) FROM contract_amortization")).scalar_one()
        return n == contracts and m == contracts * 5
    except sa.exc.DBAPIError:
        return False
    finally:
        engine.dispose()


def build(lending_url: str, operations_url: str, scale: int, parts: tuple[str, ...]) -> dict[str, int]:
    from cartera_pipelines.sandbox import collections as sandbox
    from cartera_pipelines.sandbox.targets import SandboxTargets

    home = Path(tempfile.gettempdir()) / "cartera_bench_collections"
    targets = SandboxTargets(
        home=home,
        lending_url=lending_url,
        operations_url=operations_url,
        warehouse_url="sqlite://",
        tns_servers_file=home / "unused.yaml",
    )
    return sandbox.build(targets, scale=scale, seed=SEED, today=AS_OF, parts=parts)


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def child_run(lending_url: str, operations_url: str, home: str) -> None:
    """One whole run in this (fresh) process; prints a JSON line with the figures."""
    started = time.perf_counter()
    import dagster as dg

    from cartera_pipelines.defs.collections.assets import collections_assignment
    from cartera_pipelines.resources import CarteraPaths, SqlDatabase

    imported = time.perf_counter()
    result = dg.materialize(
        [collections_assignment],
        resources={
            "lending_db": SqlDatabase(url=lending_url, read_only=True, store="lending"),
            "operations_db": SqlDatabase(url=operations_url, store="operations"),
            "paths": CarteraPaths(home=home),
        },
        partition_key=AS_OF.isoformat(),
    )
    finished = time.perf_counter()
    metadata = {}
    for event in result.get_asset_materialization_events():
        for key, value in event.materialization.metadata.items():
            v = getattr(value, "value", value)
            if isinstance(v, (int, float, str, bool)):
                metadata[f"{event.asset_key.to_user_string()}:{key}"] = v
    print(
        json.dumps(
            {
                "success": result.success,
                "seconds_run": finished - imported,
                "seconds_with_imports": finished - started,
                # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the parent (which built
                # the data set with pandas), VmHWM belongs to this process image alone
                "peak_rss_mb": _vm_hwm_mb(),
                # CPU this process used (the Python side), less sensitive than wall time to a shared machine
                "cpu_seconds": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                "metadata": metadata,
            }
        )
    )


def old_style(lending_url: str, operations_url: str, n: int) -> dict[str, float]:
    """The replaced service's loop: per contract, a SELECT (already assigned?) and an INSERT; one commit.

    Runs on a scratch copy of ``contract_advisors`` in the benchmark database (bound parameters, to
    measure the round trips and not the f-strings).
    """
    from cartera_pipelines.defs.collections import sql

    lending = sa.create_engine(lending_url)
    with lending.connect() as conn:
        arrears = sql.read_arrears(conn, AS_OF)
    lending.dispose()
    eligible = sorted((c for c, d in arrears.items() if d >= 61), key=lambda c: -arrears[c])[:n]
    engine = sa.create_engine(operations_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS contract_advisors_old_style")
        conn.exec_driver_sql(
            "CREATE TABLE contract_advisors_old_style (LIKE contract_advisors INCLUDING ALL)"
        )
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        started = time.perf_counter()
        for i, contract_id in enumerate(eligible):
            cursor.execute("SELECT 1 FROM contract_advisors_old_style WHERE contract_id = %s", (contract_id,))
            if cursor.fetchone() is None:
                cursor.execute(
                    "INSERT INTO contract_advisors_old_style (contract_id, user_id, assigned_date) VALUES (%s, %s, %s)",
                    (contract_id, (45, 81)[i % 2], AS_OF),
                )
        raw.commit()
        seconds = time.perf_counter() - started
        cursor.execute("DROP TABLE contract_advisors_old_style")
        raw.commit()
    finally:
        raw.close()
        engine.dispose()
    return {"contracts": len(eligible), "seconds": seconds, "per_second": len(eligible) / seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=int, default=250, help="sandbox scale (250 = 1 M contracts)")
    parser.add_argument("--rebuild", action="store_true", help="reload the lending data even if present")
    parser.add_argument("--child", nargs=3, metavar=("LENDING", "OPERATIONS", "HOME"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_run(*args.child)
        return

    lending_url, operations_url = database_url(MYSQL_ADMIN), database_url(PG_ADMIN)
    ensure_database(MYSQL_ADMIN)
    ensure_database(PG_ADMIN)
    contracts = 4_000 * args.scale
    report: dict[str, object] = {
        "scale": args.scale,
        "contracts": contracts,
        "installments": contracts * 5,
        "as_of": AS_OF.isoformat(),
    }

    started = time.perf_counter()
    if args.rebuild or not lending_ready(lending_url, contracts):
        print(
            f"building lending ({contracts:,} contracts) and operations … (minutes at scale 250)", flush=True
        )
        counts = build(lending_url, operations_url, args.scale, ("lending", "operations"))
        report["build_seconds"] = round(time.perf_counter() - started, 1)
    else:
        print("lending data present: resetting operations only", flush=True)
        counts = build(lending_url, operations_url, args.scale, ("operations",))
        report["reset_seconds"] = round(time.perf_counter() - started, 1)
    print(f"data: {counts}", flush=True)
    report["rows"] = counts

    with tempfile.TemporaryDirectory() as home:
        child = subprocess.run(
            [sys.executable, __file__, "--child", lending_url, operations_url, home],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
    line = next((ln for ln in reversed(child.stdout.splitlines()) if ln.startswith("{")), None)
    if child.returncode != 0 or line is None:
        print(child.stdout[-3000:], child.stderr[-5000:])
        raise SystemExit("the timed run failed")
    run = json.loads(line)
    report["run"] = run
    report["load_average_after_run"] = load_average()
    eligible = int(run["metadata"].get("operations/contract_advisors:eligible_contracts", 0))
    print(
        f"whole run: {run['seconds_run']:.1f}s (target < 20 s), peak RSS {run['peak_rss_mb']:.0f} MB "
        f"(target < 1024); load average {report['load_average_after_run']} on {os.cpu_count()} cores"
    )
    phases = {k.split(":")[1]: v for k, v in run["metadata"].items() if ":seconds_" in k}
    print(f"phases: {phases}; CPU of the run's process {run['cpu_seconds']:.1f}s (imports included)")

    old = old_style(lending_url, operations_url, OLD_STYLE_CONTRACTS)
    # The comparison: the per-contract loop scaled to the portfolio (every contract of the
    # lending store). Scaled to the eligible (61+) contracts alone is reported too, as the floor.
    scaled = contracts / old["per_second"]
    scaled_eligible = eligible / old["per_second"]
    report["old_style"] = old | {
        "scaled_to_contracts": contracts,
        "scaled_seconds": scaled,
        "eligible_contracts": eligible,
        "scaled_seconds_eligible_only": scaled_eligible,
    }
    report["speedup"] = scaled / run["seconds_run"]
    report["speedup_eligible_only"] = scaled_eligible / run["seconds_run"]
    print(
        f"old per-contract style: {old['contracts']:,} contracts in {old['seconds']:.1f}s "
        f"({old['per_second']:,.0f}/s) → {scaled:.0f}s for {contracts:,} contracts: speed-up "
        f"×{report['speedup']:.1f} (target ≥ 5); for the {eligible:,} eligible contracts only "
        f"{scaled_eligible:.0f}s, ×{report['speedup_eligible_only']:.1f}"
    )
    results = Path(__file__).parent / "results"
    results.mkdir(exist_ok=True)
    (results / "collections_assignment.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"written to {results / 'collections_assignment.json'}")


if __name__ == "__main__":
    main()
