"""A backfill of N TNS company-year partitions through the production-shaped stack (code server, daemon
and webserver as separate processes on the PostgreSQL instance of deploy/dagster.yaml), against the real
Firebird 3 server and a PostgreSQL warehouse. While it runs, a sampler records every second:

- runs in progress (STARTING/STARTED) and how many belong to the backfill;
- slots held per pool (``tns_<server>``), from the instance's concurrency tables;
- PostgreSQL connections (pg_stat_activity), per database and in total, against max_connections;
- Firebird connections (established TCP connections to the server's port).

The claim measured: the run queue's ``dagster/backfill`` limit and the per-server pools bound the load,
so the backfill completes without exhausting Firebird or PostgreSQL connections.

The TNS sandbox builder has a fixed demo catalogue (11 company-years), so this script writes its own N
company-years with the builder's ``write_company_year`` (distinct NITs, spread over three server names
that all live on the one local Firebird server, so each name is its own pool).

    cd benchmarks && ../.venv/bin/python deploy_backfill.py [--partitions 50] [--scale 4]
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).parent / "results"

import sqlalchemy as sa

from cartera_pipelines_tests import engines
from cartera_pipelines_tests.deploy.stack import BIN, Stack, clean_environment, write_instance

SERVERS = ("norte", "centro", "sur")
YEARS = (2024, 2025)
PASSWORD_ENV = "TNS_BENCH_PASSWORD"
MOVEMENTS = ("warehouse", "tns_inventory_movements")


def build_tns(
    fb: engines.FirebirdServer, home: Path, partitions: int, scale: int, created: list[str]
) -> tuple[Path, list[str], int]:
    """N company-years on the real Firebird server; returns the servers file, the partition keys, lines.
    Every database path is appended to ``created`` as soon as it exists (for the clean-up)."""
    from cartera_pipelines.defs.tns.nit import check_digit
    from cartera_pipelines.defs.tns.tables import ADMIN_TABLES, EMPRESAS
    from cartera_pipelines.sandbox import tns as sandbox_tns
    from cartera_pipelines.sandbox.targets import SandboxTargets

    # files land in the Firebird server's own directory (it must be able to write there), as
    # <server>_BENCH<i>_<year>.fdb; they are dropped at the end
    target = fb.tns_target(servers=SERVERS, password_env=PASSWORD_ENV)
    targets = SandboxTargets(
        home=home,
        lending_url="",
        operations_url="",
        warehouse_url="",
        tns_servers_file=home / "tns_servers.yaml",
        tns=target,
    )
    admin: dict[str, list[tuple]] = {s: [] for s in SERVERS}
    keys, lines = [], 0
    companies = math.ceil(partitions / len(YEARS))
    started = time.perf_counter()
    for i in range(companies):
        number = str(900_100_000 + 7919 * i)
        company = sandbox_tns.Company(
            f"bench{i:03d}",
            f"Distribuidora Benchmark {i:03d} S.A.S.",
            f"{number}-{check_digit(number)}",
            YEARS,
            i % len(SERVERS),
            24,
        )
        server = SERVERS[company.server]
        for year in YEARS:
            if len(keys) == partitions:
                break
            name = f"BENCH{i:03d}_{year}"
            created.append(sandbox_tns.database_path(target, server, name))
            writer = sandbox_tns.open_writer(target, server, name)  # the builder's own writer (Firebird)
            try:
                counts = sandbox_tns.write_company_year(writer, company, year, scale=scale, seed=7)
            finally:
                writer.close()
            lines += counts["DEKARDEX"]
            admin[server].append(
                (
                    f"{len(admin[server]) + 1:03d}",
                    company.name,
                    company.nit,
                    year,
                    sandbox_tns.database_path(target, server, name),
                )
            )
            keys.append(f"{number}_{year}")
    for server in SERVERS:
        created.append(sandbox_tns.database_path(target, server, "ADMIN"))
        writer = sandbox_tns.open_writer(target, server, "ADMIN")
        try:
            writer.create(ADMIN_TABLES)
            writer.insert(EMPRESAS, admin[server])
        finally:
            writer.close()
    print(
        f"built {len(keys)} company-years ({lines:,} DEKARDEX lines) on Firebird in "
        f"{time.perf_counter() - started:.0f}s"
    )
    return sandbox_tns.write_servers_file(targets, max_concurrent=2), keys, lines


def drop_databases(fb: engines.FirebirdServer, paths: list[str]) -> None:
    from cartera_pipelines.sandbox.targets import TnsTarget
    from cartera_pipelines.sandbox.tns import drop_firebird_databases

    drop_firebird_databases(
        TnsTarget(driver="firebird", host=fb.host, port=fb.port, user=fb.user, password=fb.password), paths
    )


def firebird_connections(port: int) -> int:
    """Established TCP connections whose remote end is the Firebird port (client side of each attachment)."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01":
                count += 1
    return count


class Sampler(threading.Thread):
    def __init__(self, instance_url: str, admin_url: str, fb_port: int, databases: dict[str, str]) -> None:
        super().__init__(daemon=True)
        self.instance = sa.create_engine(instance_url, pool_size=1)
        self.admin = sa.create_engine(admin_url, pool_size=1)
        self.fb_port = fb_port
        self.databases = databases  # role -> database name
        self.stop = threading.Event()
        self.samples: list[dict] = []

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append(self.sample())
            except sa.exc.SQLAlchemyError as exc:  # the instance schema may still be migrating at the start
                print(f"sampler: {type(exc).__name__}", file=sys.stderr)
            self.stop.wait(1.0)

    def sample(self) -> dict:
        with self.instance.connect() as conn:
            statuses = dict(
                conn.execute(
                    sa.text(
                        "SELECT status, count(*) FROM runs WHERE status IN ('STARTING', 'STARTED', 'QUEUED') GROUP BY status"
                    )
                ).all()
            )
            slots = dict(
                conn.execute(
                    sa.text(
                        "SELECT concurrency_key, count(*) FROM concurrency_slots WHERE run_id IS NOT NULL "
                        "AND deleted = false GROUP BY concurrency_key"
                    )
                ).all()
            )
        with self.admin.connect() as conn:
            per_db = dict(
                conn.execute(
                    sa.text(
                        "SELECT coalesce(datname, '(background)'), count(*) FROM pg_stat_activity GROUP BY 1"
                    )
                ).all()
            )
        return {
            "t": time.time(),
            "in_progress": statuses.get("STARTING", 0) + statuses.get("STARTED", 0),
            "queued": statuses.get("QUEUED", 0),
            "slots": slots,
            "pg_total": sum(per_db.values()),
            "pg": {role: per_db.get(name, 0) for role, name in self.databases.items()},
            "firebird": firebird_connections(self.fb_port),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--partitions", type=int, default=50)
    parser.add_argument(
        "--scale", type=int, default=4, help="sandbox scale: lines per company-year grow with it"
    )
    parser.add_argument(
        "--executor",
        choices=("in_process", "multiprocess"),
        default="in_process",
        help="run executor (in_process: one process per run, as the 2-core reference machine affords)",
    )
    parser.add_argument("--timeout", type=float, default=1500)
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep the processes' logs and the sandbox here (default: a temporary directory)",
    )
    args = parser.parse_args()

    fb = engines.firebird_server()
    with ExitStack() as stack_exit:
        if args.workdir:
            args.workdir.mkdir(parents=True, exist_ok=True)
            work = args.workdir
        else:
            work = Path(stack_exit.enter_context(tempfile.TemporaryDirectory(prefix="cartera_deploy_bench_")))
        try:
            figures = run(args, fb, work, stack_exit)
        except BaseException:
            traceback.print_exc()  # before the clean-up, which may take a while
            raise
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "deploy_backfill.json").write_text(json.dumps(figures, indent=2))
    for name, value in figures.items():
        if name != "timeline":
            print(f"{name}: {value}")
    ok = (
        figures["runs_by_status"].get("SUCCESS", 0) == figures["partitions"]
        and all(n <= 2 for pool, n in figures["max_slots_per_pool"].items() if pool.startswith("tns_"))
        and figures["max_pg_connections_total"] < figures["pg_max_connections"]
    )
    print("pool limits held and every partition succeeded" if ok else "TARGET MISSED (see figures)")


def run(args: argparse.Namespace, fb: engines.FirebirdServer, work: Path, stack_exit: ExitStack) -> dict:
    instance_url = stack_exit.enter_context(engines.postgres_database())
    warehouse_url = stack_exit.enter_context(engines.postgres_database())
    home = work / "cartera_home"
    created: list[str] = []
    stack_exit.callback(drop_databases, fb, created)
    servers_file, keys, lines_written = build_tns(fb, home, args.partitions, args.scale, created)
    env = clean_environment(
        {
            "CARTERA_HOME": str(home),
            "DAGSTER_HOME": str(work / "dagster_home"),
            "DAGSTER_PG_URL": instance_url.replace("postgresql+psycopg2://", "postgresql://", 1),
            "CARTERA_WAREHOUSE_URL": warehouse_url,
            "CARTERA_TNS_SERVERS": str(servers_file),
            PASSWORD_ENV: fb.password,
        }
    )
    write_instance(work / "dagster_home")
    stack = Stack(workdir=work, env=env)
    stack_exit.callback(stack.stop)
    stack.start_code_server()

    subprocess.run([str(BIN / "cartera"), "pools", "apply"], env=env, cwd=work, check=True)
    stack.start_webserver()
    stack.wait_until_loaded(timeout=600)
    stack.stop_all_automation()
    stack.start_daemon()
    stack.wait_for_daemon(timeout=300)

    run_config = {"execution": {"config": {"in_process": {}}}} if args.executor == "in_process" else {}
    discover = stack.launch_run("tns_discover_job", run_config={"execution": {"config": {"in_process": {}}}})
    assert stack.wait_for_runs([discover], timeout=300)[0]["status"] == "SUCCESS", stack.log_tail()

    def db(url: str) -> str | None:
        return sa.engine.make_url(url).database

    sampler = Sampler(
        instance_url,
        engines.PG_ADMIN_URL,
        fb.port,
        {"dagster_instance": db(instance_url), "warehouse": db(warehouse_url)},
    )
    sampler.start()
    started = time.time()
    backfill = stack.launch_asset_backfill(MOVEMENTS, keys, run_config=run_config)
    status = "REQUESTED"
    while status in ("REQUESTED", "CANCELING", "FAILING") and time.time() - started < args.timeout:
        time.sleep(2)
        status = stack.backfill_status(backfill)
    # the backfill is COMPLETED once its last run is requested; wait for the runs themselves
    while time.time() - started < args.timeout:
        runs = stack.runs(tags={"dagster/backfill": backfill}, limit=1000)
        if len(runs) >= len(keys) and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            break
        time.sleep(2)
    wall = time.time() - started
    sampler.stop.set()
    sampler.join()
    sampler.instance.dispose()
    sampler.admin.dispose()

    runs = stack.runs(tags={"dagster/backfill": backfill}, limit=1000)
    engine = sa.create_engine(warehouse_url)
    with engine.connect() as conn:
        loaded = conn.execute(sa.text("SELECT count(*) FROM tns_inventory_movements")).scalar_one()
    engine.dispose()
    engine = sa.create_engine(engines.PG_ADMIN_URL)
    with engine.connect() as conn:
        max_connections = int(conn.execute(sa.text("SHOW max_connections")).scalar_one())
    engine.dispose()
    durations = [r["endTime"] - r["startTime"] for r in runs if r["startTime"] and r["endTime"]]
    samples = sampler.samples
    pool_max: Counter[str] = Counter()
    for s in samples:
        for pool, n in s["slots"].items():
            pool_max[pool] = max(pool_max[pool], n)
    figures = {
        "partitions": len(keys),
        "scale": args.scale,
        "executor": args.executor,
        "lines_in_firebird": lines_written,
        "lines_loaded": int(loaded),
        "runs": len(runs),
        "runs_by_status": dict(Counter(r["status"] for r in runs)),
        "backfill_status": status,
        "wall_s": round(wall, 1),
        "partitions_per_min": round(len(keys) / wall * 60, 1),
        "lines_per_s_end_to_end": round(int(loaded) / wall),
        "run_seconds_median": round(statistics.median(durations), 1) if durations else None,
        "max_runs_in_progress": max((s["in_progress"] for s in samples), default=0),
        "backfill_run_limit": 4,
        "max_slots_per_pool": dict(sorted(pool_max.items())),
        "pool_limit_per_tns_server": 2,
        "max_pg_connections_total": max((s["pg_total"] for s in samples), default=0),
        "max_pg_connections_instance_db": max((s["pg"]["dagster_instance"] for s in samples), default=0),
        "max_pg_connections_warehouse_db": max((s["pg"]["warehouse"] for s in samples), default=0),
        "pg_max_connections": max_connections,
        "max_firebird_connections": max((s["firebird"] for s in samples), default=0),
        "samples": len(samples),
        "timeline": [
            {k: s[k] for k in ("in_progress", "queued", "pg_total", "firebird")}
            | {"t": round(s["t"] - started, 1)}
            for s in samples[:: max(1, len(samples) // 60)]
        ],
    }
    return figures


if __name__ == "__main__":
    main()
