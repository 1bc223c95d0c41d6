"""Contifico sync benchmark: 200,000 records across the 17 resources, simulator → PostgreSQL.

    cd benchmarks && ../.venv/bin/python contifico_sync.py [--records 200000] [--pg postgresql+psycopg2://postgres@127.0.0.1:5432/postgres]

Figures (each measured in its own subprocess, so peak memory is that sync's alone):
1. full sync, ours (the code the assets run: ``sync_resource`` per resource on a thread pool) vs
   dlt's ``rest_api`` source (merge on ``id`` into PostgreSQL), same simulator, same run;
2. incremental sync after 1% of records changed: time vs the full sync, rows written;
3. full sync into a fresh database with 10% of requests failing (429 with Retry-After / 500 / a
   truncated 200 body): rows identical to the clean database (id + content hash of every row of the
   17 tables, every row of the 6 child tables).
The simulator runs in its own process. Results go to ``benchmarks/results/contifico_sync.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = Path(__file__).resolve().parent / "results"
KEY = "sandbox-contifico-key"
PAGE_SIZE = 1000
WORKERS = 4


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


# -- roles run in subprocesses ------------------------------------------------------------------
def role_simulator(args: argparse.Namespace) -> None:
    from cartera_pipelines.sandbox.contifico_simulator import make_server

    server = make_server("127.0.0.1", 0, data_file=Path(args.data_file), total=args.records)
    print(json.dumps({"base_url": server.base_url, "records": server.sim.count()}), flush=True)
    server.serve_forever(poll_interval=0.2)


def role_ours(args: argparse.Namespace) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from cartera_pipelines.defs.contifico.catalog import CATALOG
    from cartera_pipelines.defs.contifico.sync import SyncOptions, ensure_tables, sync_resource
    from cartera_pipelines.resources.contifico import ContificoApi
    from cartera_pipelines.resources.database import SqlDatabase

    api = ContificoApi(
        base_url=args.base_url,
        api_key=KEY,
        page_size=PAGE_SIZE,
        rate_limit_rps=args.rps,
        max_concurrency=WORKERS,
        max_retries=10,
        backoff_initial_seconds=0.2,
        backoff_max_seconds=5,
    )
    db = SqlDatabase(url=args.url, store="warehouse", pool_size=WORKERS + 1)
    ensure_tables(db)
    options = SyncOptions(full_refresh=args.full_refresh)
    started = time.perf_counter()
    # Largest resources first, so the pool's tail is short.
    order = sorted(
        CATALOG, key=lambda r: r.name not in {"documents", "sales", "products", "inventory_movements"}
    )
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        stats = list(pool.map(lambda r: sync_resource(api, db, r, options), order))
    seconds = time.perf_counter() - started
    totals = {
        k: sum(getattr(s, k) for s in stats)
        for k in (
            "fetched",
            "new",
            "changed",
            "unchanged",
            "deleted",
            "pages",
            "retries",
            "lines",
            "rejected",
        )
    }
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb(), **totals}), flush=True)


def role_dlt(args: argparse.Namespace) -> None:
    import dlt
    from dlt.sources.rest_api import rest_api_source

    from cartera_pipelines.defs.contifico.catalog import CATALOG

    def endpoint(r: Any) -> dict[str, Any]:
        # Each endpoint as the catalog says it pages (its page cap too): the same quirks we honour.
        size = r.page_size(PAGE_SIZE)
        if r.version == "v2" and r.page_style == "result_page":
            return {
                "path": r.path,
                "params": {**dict(r.params), "result_size": size},
                "paginator": {"type": "json_link", "next_url_path": "next"},
                "data_selector": "results",
            }
        if r.version == "v1":
            paginator = {
                "type": "page_number",
                "page_param": "result_page",
                "base_page": 1,
                "total_path": None,
                "stop_after_empty_page": True,
            }
            return {
                "path": r.path,
                "params": {**dict(r.params), "result_size": size},
                "paginator": paginator,
                "data_selector": "$",
            }
        return {
            "path": r.path,
            "params": {**dict(r.params), "page_size": size},
            "paginator": {"type": "json_link", "next_url_path": "next"},
            "data_selector": "results",
        }

    source = rest_api_source(
        {
            "client": {"base_url": args.base_url, "headers": {"Authorization": KEY}},
            "resource_defaults": {"primary_key": "id", "write_disposition": "merge"},
            "resources": [{"name": r.table_name, "endpoint": endpoint(r)} for r in CATALOG],
        }
    )
    import sqlalchemy as sa

    url = sa.engine.make_url(args.url)
    # dlt insists on a password; the local server trusts loopback, so any will do when none is set.
    credentials = url.set(drivername="postgresql", password=url.password or "trust").render_as_string(
        hide_password=False
    )
    pipelines_dir = tempfile.mkdtemp(prefix="dlt-bench-")
    pipeline = dlt.pipeline(
        pipeline_name="contifico_bench",
        destination=dlt.destinations.postgres(credentials=credentials),
        dataset_name="contifico",
        pipelines_dir=pipelines_dir,
    )
    started = time.perf_counter()
    info = pipeline.run(source)
    seconds = time.perf_counter() - started
    rows = pipeline.last_trace.last_normalize_info.row_counts
    top = sum(n for t, n in rows.items() if t.startswith("contifico_") and "__" not in t)
    print(
        json.dumps({"seconds": seconds, "peak_mb": peak_mb(), "records": top, "loads": len(info.loads_ids)}),
        flush=True,
    )


# -- the orchestration ----------------------------------------------------------------------------
def run_role(role: str, *extra: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--role", role, *extra], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"{role} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def fresh_database(admin_url: str, name: str) -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    engine.dispose()
    return str(sa.engine.make_url(admin_url).set(database=name).render_as_string(hide_password=False))


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Per table: live rows and an MD5 over every (id, content hash), ordered by id; per child table:
    rows and an MD5 over every whole row, ordered by (parent id, line number)."""
    import sqlalchemy as sa

    from cartera_pipelines.defs.contifico.tables import CHILD_TABLES, RESOURCE_TABLES

    engine = sa.create_engine(url)
    result = {}
    with engine.connect() as conn:
        for name, table in RESOURCE_TABLES.items():
            count, digest = conn.execute(
                sa.text(
                    f"SELECT count(*), md5(coalesce(string_agg(id || ':' || content_hash, ',' ORDER BY id), '')) "
                    f"FROM {table.name} WHERE deleted_at IS NULL"
                )
            ).one()
            result[name] = (int(count), str(digest))
        for name, table in CHILD_TABLES.items():
            count, digest = conn.execute(
                sa.text(
                    f"SELECT count(*), md5(coalesce(string_agg(t::text, ',' ORDER BY parent_id, line_number), '')) "
                    f"FROM {table.name} t"
                )
            ).one()
            result[name] = (int(count), str(digest))
    engine.dispose()
    return result


def post(base_url: str, path: str, payload: dict[str, Any]) -> Any:
    import httpx

    response = httpx.post(base_url + path, json=payload, headers={"Authorization": KEY}, timeout=600)
    response.raise_for_status()
    return response.json()


def main(args: argparse.Namespace) -> None:
    RESULTS.mkdir(exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="contifico-bench-"))
    data_file = data_dir / "records.sqlite"
    started = time.perf_counter()
    from cartera_pipelines.sandbox.contifico import COLLECTIONS, write_data_file

    write_data_file(data_file, seed=42, total=args.records)
    print(f"simulator data: {args.records:,} records in {time.perf_counter() - started:.1f}s")
    sim = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--role",
            "simulator",
            "--data-file",
            str(data_file),
            "--records",
            str(args.records),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert sim.stdout is not None
        hello = json.loads(sim.stdout.readline())
        base_url = hello["base_url"]
        print(f"simulator on {base_url} serving {hello['records']:,} records (own process)")
        ours_url = fresh_database(args.pg, "contifico_bench_ours")
        dlt_url = fresh_database(args.pg, "contifico_bench_dlt")
        faulty_url = fresh_database(args.pg, "contifico_bench_faulty")
        common = ["--base-url", base_url, "--rps", str(args.rps)]

        ours = run_role("ours", *common, "--url", ours_url)
        print(
            f"ours full:   {ours['seconds']:.1f}s, {ours['fetched'] / ours['seconds']:,.0f} records/s, "
            f"peak {ours['peak_mb']:.0f} MB, {ours['new']:,} rows and {ours['lines']:,} child lines written, "
            f"{ours['pages']} pages"
        )
        peer = run_role("dlt", *common, "--url", dlt_url)
        print(
            f"dlt full:    {peer['seconds']:.1f}s, {peer['records'] / peer['seconds']:,.0f} records/s, "
            f"peak {peer['peak_mb']:.0f} MB, {peer['records']:,} records"
        )

        # documento/ filters changes by emission date (the API's quirk): its changes wait for the weekly
        # full scan, so the 1% is drawn from every other endpoint.
        paths = [c.path for c in COLLECTIONS if c.path != "v2/documento/"]
        touched = post(base_url, "_sim/mutate", {"changed": 0.01, "seed": 2026, "paths": paths})
        changed = sum(len(t["changed"]) for t in touched.values())
        incremental = run_role("ours", *common, "--url", ours_url)
        share = incremental["seconds"] / ours["seconds"]
        print(
            f"incremental: {incremental['seconds']:.2f}s ({share:.1%} of full), fetched {incremental['fetched']:,}, "
            f"wrote {incremental['new'] + incremental['changed']:,} rows for {changed:,} changed records"
        )

        faults = {"rate": 0.10, "kinds": ["429", "500", "malformed"], "seed": 5, "retry_after": "1"}
        post(base_url, "_sim/faults", faults)
        faulty = run_role("ours", *common, "--url", faulty_url)
        post(base_url, "_sim/faults", {})
        identical = fingerprint(faulty_url) == fingerprint(ours_url)
        print(
            f"faults 10%:  {faulty['seconds']:.1f}s, {faulty['retries']} retries, rows identical to clean run: {identical}"
        )
    finally:
        sim.terminate()
        sim.wait(timeout=30)

    figures = {
        "records": args.records,
        "cpu_count": os.cpu_count(),
        "ours_full_seconds": round(ours["seconds"], 2),
        "ours_full_records_per_second": round(ours["fetched"] / ours["seconds"]),
        "ours_full_peak_mb": round(ours["peak_mb"]),
        "ours_full_child_lines": ours["lines"],
        "dlt_full_seconds": round(peer["seconds"], 2),
        "dlt_full_records_per_second": round(peer["records"] / peer["seconds"]),
        "dlt_full_peak_mb": round(peer["peak_mb"]),
        "dlt_records": peer["records"],
        "incremental_seconds": round(incremental["seconds"], 2),
        "incremental_share_of_full": round(share, 4),
        "incremental_changed_records": changed,
        "incremental_rows_written": incremental["new"] + incremental["changed"],
        "incremental_fetched": incremental["fetched"],
        "faulty_seconds": round(faulty["seconds"], 2),
        "faulty_retries": faulty["retries"],
        "faulty_rows_identical": identical,
        "targets": {
            "full_faster_than_dlt": ours["seconds"] < peer["seconds"],
            "less_memory_than_dlt": ours["peak_mb"] < peer["peak_mb"],
            "peak_under_500_mb": ours["peak_mb"] < 500,
            "full_2_5x_faster_than_dlt": ours["seconds"] * 2.5 <= peer["seconds"],
            "under_half_dlt_memory": ours["peak_mb"] * 2 < peer["peak_mb"],
            "incremental_under_3_percent": share <= 0.03,
            "incremental_writes_only_changed": incremental["new"] + incremental["changed"] == changed,
            "faulty_identical": identical,
        },
    }
    (RESULTS / "contifico_sync.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures["targets"], indent=2))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--role", default="main", choices=["main", "simulator", "ours", "dlt"])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "CARTERA_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--rps", type=float, default=200.0, help="Our client-side rate limit (requests/s).")
    parser.add_argument("--data-file")
    parser.add_argument("--base-url")
    parser.add_argument("--url")
    parser.add_argument("--full-refresh", action="store_true")
    arguments = parser.parse_args()
    {"main": main, "simulator": role_simulator, "ours": role_ours, "dlt": role_dlt}[arguments.role](arguments)
