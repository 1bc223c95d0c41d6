"""TNS extraction: 1,000,000 movement lines from one Firebird company database into PostgreSQL.

Four figures measured in the same run, each in its own child process (so peak memory is the
measured step's own):

1. bare read: fdb executes the extraction's own query (the server formats each line as one text
   column), in the extraction's own read-only snapshot transaction, and fetches every row (nothing
   else); and the same lines as 19 typed columns, which fdb decodes one by one (the query the
   extraction ran before, still its reading of a DOUBLE PRECISION schema); for each, the client's CPU
   and, when the Firebird server runs on this machine, the server's (``/proc``);
2. end to end: the code the asset runs (``source_chunks`` + ``extract_into``: ordered streamed read in a
   child process, convert + ``COPY`` in the other, one transaction) from connect to commit; and the
   reader process alone into a null writer (what the end to end adds to the read is the writer's);
3. bare COPY: PostgreSQL ``COPY FROM`` of the very rows the extraction loaded (exported beforehand
   to a CSV file, so only the load is timed), into a table with the same primary key;
4. two partitions of the same server extracted at the same time (two processes, as two runs would be),
   each from its own million-line company database (``--no-concurrent`` skips it).

Target (#16): end-to-end throughput ≥ 88 % of the slower of (1) and (3), the bare read being the one of
the lines as typed columns (the issue's yardstick: what reading the lines costs the driver, measured
before the server formatted them); peak memory of (2) < 500 MB. The ratio to a bare read of the
extraction's own query is reported next to it.

    cd benchmarks && ../.venv/bin/python tns_extract.py [--lines 1000000] [--rebuild] [--no-concurrent]

The Firebird server and the PostgreSQL server are the test servers (``cartera_pipelines_tests/engines.py``:
CARTERA_TEST_FIREBIRD_*, CARTERA_TEST_PG_URL); a throwaway PostgreSQL database is created and dropped.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PASSWORD_ENV = "CARTERA_BENCH_TNS_PASSWORD"
SERVER = "bench"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _firebird_server_cpu() -> float | None:
    """CPU seconds the local Firebird server process has used (None when it does not run here)."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "comm").read_text().strip() == "firebird":
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            continue
    return None


def bare_read(dsn: str, user: str, password: str, fetch_size: int, kind: str, out: mp.Queue) -> None:
    """``kind`` "lines": the extraction's own query (the server formats each line, one text column);
    "typed": the same lines as 19 typed columns, which fdb decodes one by one (the query before #16's
    last change, still the reading of a DOUBLE PRECISION schema)."""
    import fdb

    from cartera_pipelines.defs.tns.sql import movement_lines_query, movements_query
    from cartera_pipelines.resources.tns import snapshot_read_only

    server_before = _firebird_server_cpu()
    started = time.perf_counter()
    conn = fdb.connect(
        dsn=dsn, user=user, password=password, charset="WIN1252", isolation_level=snapshot_read_only()
    )
    cursor = conn.cursor()
    cursor.arraysize = fetch_size
    query, params = movement_lines_query() if kind == "lines" else movements_query("firebird")
    cursor.execute(query, params)
    n = 0
    while rows := cursor.fetchmany(fetch_size):
        n += len(rows)
    conn.close()
    seconds, server_after = time.perf_counter() - started, _firebird_server_cpu()
    out.put(
        {
            "rows": n,
            "seconds": seconds,
            "cpu_seconds": time.process_time(),
            # the server's share of the read (the Firebird server's CPU over the same interval)
            "server_cpu_seconds": None if server_after is None else server_after - server_before,
            "peak_rss_mb": _rss_mb(),
        }
    )


def reader_only(servers_file: str, path: str, fetch_size: int, out: mp.Queue) -> None:
    """The extraction's reader process (``source_chunks``) into a null writer: the read as the end to end
    does it, without the warehouse."""
    import datetime as dt

    import dagster  # noqa: F401  (the run worker's heap, which the reader child inherits)

    from cartera_pipelines.defs.tns.extract import source_chunks
    from cartera_pipelines.defs.tns.movements import CompanyContext, ExtractPlan
    from cartera_pipelines.resources.tns import TnsSource

    tns = TnsSource(servers_file=servers_file)
    company = CompanyContext("900999000_2025", "900999000", 2025, "001", dt.datetime.now(dt.UTC))
    started, n = time.perf_counter(), 0
    with source_chunks(
        tns, tns.server(SERVER), path, ExtractPlan(), company, fetch_size=fetch_size
    ) as chunks:
        for chunk in chunks:
            n += chunk.lines
    out.put({"rows": n, "seconds": time.perf_counter() - started})


def end_to_end(
    servers_file: str, path: str, pg_url: str, fetch_size: int, nit: str, out: mp.Queue, start_at: float = 0.0
) -> None:
    import datetime as dt

    from cartera_pipelines.defs.tns.extract import extract_into, source_chunks
    from cartera_pipelines.defs.tns.movements import CompanyContext, ExtractPlan
    from cartera_pipelines.lib.progress import Progress
    from cartera_pipelines.lib.schema import ensure_schema
    from cartera_pipelines.resources.database import SqlDatabase
    from cartera_pipelines.resources.tns import TnsSource

    tns = TnsSource(servers_file=servers_file)
    server = tns.server(SERVER)
    warehouse = SqlDatabase(url=pg_url, store="warehouse")
    ensure_schema(warehouse)
    company = CompanyContext(f"{nit}_2025", nit, 2025, "001", dt.datetime.now(dt.UTC))
    plan = ExtractPlan()

    progress = Progress(
        lambda line: print(f"    e2e: {line}, rss {_rss_mb():.0f} MB", flush=True),
        nit,
        unit="lines",
        every=10.0,
    )
    while time.time() < start_at:  # concurrent runs start together
        time.sleep(0.01)
    started = time.perf_counter()
    began = time.time()
    # the asset's own entry point: Firebird is read in a child process (its own core)
    with (
        source_chunks(tns, server, path, plan, company, fetch_size=fetch_size) as chunks,
        warehouse.begin() as conn,
    ):
        stats = extract_into(conn, chunks, company, plan, progress=progress)
    seconds = time.perf_counter() - started
    warehouse.dispose()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out.put(
        {
            "rows": stats.lines_read,
            "loaded": stats.lines_loaded,
            "seconds": seconds,
            "writer_waited_for_reader_seconds": stats.read_wait_seconds,
            "began": began,
            "ended": time.time(),
            # parent + reader child, both counted: the extraction's whole footprint
            "peak_rss_mb": _rss_mb() + children.ru_maxrss / 1024,
            "cpu_seconds": time.process_time() + children.ru_utime + children.ru_stime,
        }
    )


def bare_copy(pg_url: str, out: mp.Queue) -> None:
    import psycopg2
    from sqlalchemy.engine import make_url

    url = make_url(pg_url)
    conn = psycopg2.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password or None,
        dbname=url.database,
    )
    cur = conn.cursor()
    with tempfile.TemporaryFile("w+", encoding="utf-8") as f:
        cur.copy_expert("COPY tns_inventory_movements TO STDOUT WITH (FORMAT csv)", f)
        f.seek(0)
        cur.execute("CREATE TABLE bench_copy (LIKE tns_inventory_movements INCLUDING ALL)")
        conn.commit()
        started = time.perf_counter()
        cur.copy_expert("COPY bench_copy FROM STDIN WITH (FORMAT csv)", f, size=1 << 20)
        conn.commit()
        seconds = time.perf_counter() - started
    cur.execute("SELECT COUNT(*) FROM bench_copy")
    n = cur.fetchone()[0]
    conn.close()
    out.put({"rows": n, "seconds": seconds, "peak_rss_mb": _rss_mb()})


def _child(target, *args):
    return _children([(target, args)])[0]


def _children(calls, **kwargs):
    """Run each ``(target, args)`` in its own spawned process at the same time; their results in order."""
    ctx = mp.get_context("spawn")
    started = []
    for target, args in calls:
        queue = ctx.Queue()
        proc = ctx.Process(target=target, args=(*args, queue), kwargs=kwargs)
        proc.start()
        started.append((target, proc, queue))
    results = []
    for target, proc, queue in started:
        results.append(queue.get())
        proc.join()
        if proc.exitcode:
            raise SystemExit(f"{target.__name__} failed with exit code {proc.exitcode}")
    return results


def _database(target, fb, name: str, lines: int, rebuild: bool) -> tuple[str, int]:
    from cartera_pipelines.sandbox.tns import build_large_company_year, database_path

    path = database_path(target, SERVER, name)
    found = 0 if rebuild else _count_lines(fb.dsn(path), fb.user, fb.password)
    if found >= lines:
        return path, found
    print(f"building {path} with ≥ {lines:,} lines …", flush=True)
    started = time.perf_counter()
    path, found = build_large_company_year(target, SERVER, name, lines=lines)
    print(f"  built {found:,} lines in {time.perf_counter() - started:.0f}s", flush=True)
    return path, found


def _count_lines(dsn: str, user: str, password: str) -> int:
    import fdb

    try:
        conn = fdb.connect(dsn=dsn, user=user, password=password, charset="WIN1252")
    except fdb.DatabaseError:
        return 0
    cur = conn.cursor()
    cur.execute("SELECT COUNT(*) FROM DEKARDEX")
    n = int(cur.fetchone()[0])
    conn.close()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--fetch-size", type=int, default=5000)
    parser.add_argument(
        "--rebuild", action="store_true", help="Rebuild the Firebird database even if present."
    )
    parser.add_argument(
        "--no-concurrent",
        dest="concurrent",
        action="store_false",
        help="Skip the two-partitions-at-once figure (and building its second database).",
    )
    args = parser.parse_args()

    import yaml

    from cartera_pipelines_tests import engines

    fb = engines.firebird_server()
    target = fb.tns_target(servers=(SERVER,), password_env=PASSWORD_ENV)
    path, lines = _database(target, fb, f"TNS_BENCH_{args.lines}", args.lines, args.rebuild)
    second = None
    if args.concurrent:
        second, _ = _database(target, fb, f"TNS_BENCH_{args.lines}_B", args.lines, args.rebuild)
    os.environ[PASSWORD_ENV] = fb.password  # the servers file names the variable, as in production
    concurrent = None
    with tempfile.TemporaryDirectory() as tmp:
        servers_file = Path(tmp) / "tns_servers.yaml"
        servers_file.write_text(
            yaml.safe_dump(
                {
                    "servers": [
                        {
                            "name": SERVER,
                            "driver": "firebird",
                            "host": fb.host,
                            "port": fb.port,
                            "admin_path": path,
                            "user": fb.user,
                            "password_env": PASSWORD_ENV,
                            "charset": "WIN1252",
                            "max_concurrent": 2,
                        }
                    ]
                }
            )
        )
        with engines.postgres_database() as pg_url:
            print("1/4 bare fdb read of the extraction's query (lines formatted by the server) …", flush=True)
            read = _child(bare_read, fb.dsn(path), fb.user, fb.password, args.fetch_size, "lines")
            print(f"    {read['rows']:,} rows in {read['seconds']:.1f}s", flush=True)
            print("    and of the same lines as 19 typed columns …", flush=True)
            typed = _child(bare_read, fb.dsn(path), fb.user, fb.password, args.fetch_size, "typed")
            print(f"    {typed['rows']:,} rows in {typed['seconds']:.1f}s", flush=True)
            print("2/4 end to end (extract_into: read ∥ convert + COPY, one transaction) …", flush=True)
            e2e = _child(end_to_end, str(servers_file), path, pg_url, args.fetch_size, "900999001")
            print(f"    {e2e['rows']:,} rows in {e2e['seconds']:.1f}s", flush=True)
            print("    and the reader process alone, into a null writer …", flush=True)
            reader = _child(reader_only, str(servers_file), path, args.fetch_size)
            print(f"    {reader['rows']:,} lines in {reader['seconds']:.1f}s", flush=True)
            print("3/4 bare PostgreSQL COPY of the same rows …", flush=True)
            copy = _child(bare_copy, pg_url)
            print(f"    {copy['rows']:,} rows in {copy['seconds']:.1f}s", flush=True)
            if second is not None:
                print("4/4 two partitions of the same server at once …", flush=True)
                start_at = time.time() + 5.0
                concurrent = _children(
                    [
                        (end_to_end, (str(servers_file), path, pg_url, args.fetch_size, "900999011")),
                        (end_to_end, (str(servers_file), second, pg_url, args.fetch_size, "900999012")),
                    ],
                    start_at=start_at,
                )
                for one in concurrent:
                    print(f"    {one['rows']:,} rows in {one['seconds']:.1f}s", flush=True)

    rate = {
        k: v["rows"] / v["seconds"]
        for k, v in {"read": read, "typed": typed, "e2e": e2e, "copy": copy}.items()
    }
    ratio = rate["e2e"] / min(rate["typed"], rate["copy"])
    own = rate["e2e"] / min(rate["read"], rate["copy"])
    results = {
        "lines_in_database": lines,
        "lines_extracted": e2e["rows"],
        "lines_loaded": e2e["loaded"],
        "bare_read_lines_per_s": round(rate["read"]),
        "bare_typed_read_lines_per_s": round(rate["typed"]),
        "end_to_end_vs_bare_typed_read": round(rate["e2e"] / rate["typed"], 3),
        "bare_copy_rows_per_s": round(rate["copy"]),
        "end_to_end_lines_per_s": round(rate["e2e"]),
        "end_to_end_vs_slower_bare": round(ratio, 3),
        "end_to_end_vs_slower_bare_of_its_own_query": round(own, 3),
        "target_ratio": 0.88,
        "end_to_end_seconds": round(e2e["seconds"], 1),
        "writer_waited_for_reader_seconds": round(e2e["writer_waited_for_reader_seconds"], 1),
        "end_to_end_peak_rss_mb": round(e2e["peak_rss_mb"]),
        "bare_read_peak_rss_mb": round(read["peak_rss_mb"]),
        "target_peak_rss_mb": 500,
        # CPU seconds of each client process (all threads): less sensitive than wall time to other
        # work on a shared machine. Python work shares one GIL, so this is what overlap cannot hide.
        "bare_read_client_cpu_s": round(read["cpu_seconds"], 1),
        "bare_typed_read_client_cpu_s": round(typed["cpu_seconds"], 1),
        "bare_read_server_cpu_s": read["server_cpu_seconds"] and round(read["server_cpu_seconds"], 1),
        "bare_typed_read_server_cpu_s": typed["server_cpu_seconds"] and round(typed["server_cpu_seconds"], 1),
        "reader_alone_into_null_writer_seconds": round(reader["seconds"], 1),
        "end_to_end_client_cpu_s": round(e2e["cpu_seconds"], 1),
        "client_cpu_ratio_read_over_e2e": round(read["cpu_seconds"] / e2e["cpu_seconds"], 3),
        "load_average_1m_at_end": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    if concurrent:
        wall = max(c["ended"] for c in concurrent) - min(c["began"] for c in concurrent)
        both = sum(c["rows"] for c in concurrent)
        results |= {
            "two_partitions_wall_seconds": round(wall, 1),
            "two_partitions_lines_per_s_each": [round(c["rows"] / c["seconds"]) for c in concurrent],
            "two_partitions_lines_per_s_together": round(both / wall),
            "two_partitions_vs_one": round(both / wall / rate["e2e"], 3),
        }
    print(json.dumps(results, indent=2))
    print(
        f"end to end = {ratio:.0%} of the slower of a bare read of the lines as typed columns and a bare COPY "
        f"(target ≥ 88%): {'MET' if ratio >= 0.88 else 'MISSED'}"
    )
    print(f"end to end = {own:.0%} of the slower of a bare read of its own query and a bare COPY (reported)")
    print(
        f"peak memory {e2e['peak_rss_mb']:.0f} MB (target < 500 MB): {'MET' if e2e['peak_rss_mb'] < 500 else 'MISSED'}"
    )
    if concurrent:
        print(f"two partitions at once: {results['two_partitions_vs_one']:.2f}× the throughput of one")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "tns_extract.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
