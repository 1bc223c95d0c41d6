"""Benchmark: 10,000 outbox events delivered as signed webhooks to a local receiver failing 20% of requests.

A fresh PostgreSQL database ``cartera_bench_factoring_outbox`` gets ``--events`` undelivered events; the
receiver (signature verification, 503 for a deterministic 20% of requests) runs in a child process so
it does not share the delivering process's GIL, as a real endpoint would not: by default a minimal ASGI
app on uvicorn + httptools (``--receiver http.server`` uses the sandbox's ThreadingHTTPServer receiver,
which costs about three times the CPU per request on this machine). ``operations/outbox_deliveries``
runs through ``dg.materialize`` with the default sender settings (32 in flight, 8 tries per attempt). One
event in the middle is typed ``operación.aprobada`` (its header goes out percent-encoded). Besides wall
time the figures give the CPU the delivery loop used (``delivery_cpu_seconds``, all threads): on a shared
machine the wall time follows the load, the CPU much less.

    cd benchmarks && ../.venv/bin/python factoring_outbox.py [--events 10000] [--fail-rate 0.2] [--store sqlite]

Results go to ``benchmarks/results/factoring_outbox.json``. Server: CARTERA_BENCH_PG_URL (admin URL;
default postgres@127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("CARTERA_BENCH_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")

from cartera_pipelines_tests import engines

SECRET = "benchmark-not-a-secret"
TARGET_SECONDS = 20.0


def _asgi_receiver(fail_rate: float, ready: mp.Queue, stop: mp.Event, stats: mp.Queue) -> None:
    """The same receiver contract (verify, record, fail a share with 503) on uvicorn + httptools."""
    import random
    import resource
    import socket
    import threading

    import uvicorn

    from cartera_pipelines.resources.webhooks import verify

    rng = random.Random(20)
    counts = {"requests": 0, "failures_injected": 0, "bad_signatures": 0}
    deliveries: dict[str, int] = {}

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        counts["requests"] += 1
        if not verify(SECRET, body, headers.get("x-cartera-signature", "")):
            counts["bad_signatures"] += 1
            status = 401
        elif rng.random() < fail_rate:
            counts["failures_injected"] += 1
            status = 503
        else:
            key = headers.get("idempotency-key", "")
            deliveries[key] = deliveries.get(key, 0) + 1
            status = 200
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
            }
        )
        await send({"type": "http.response.body", "body": b"{}"})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(
        uvicorn.Config(
            app, log_level="warning", http="httptools", loop="uvloop", access_log=False, lifespan="off"
        )
    )

    def watch() -> None:
        stop.wait()
        server.should_exit = True

    threading.Thread(target=watch, daemon=True).start()
    ready.put(f"http://127.0.0.1:{sock.getsockname()[1]}/webhooks/cartera")
    server.run(sockets=[sock])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats.put(
        counts
        | {
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "distinct_events_received": len(deliveries),
            "duplicate_deliveries": sum(deliveries.values()) - len(deliveries),
        }
    )


def _receiver(fail_rate: float, ready: mp.Queue, stop: mp.Event, stats: mp.Queue) -> None:
    from cartera_pipelines.sandbox.factoring import WebhookReceiver

    with WebhookReceiver(SECRET, fail_rate=fail_rate, seed=20) as receiver:
        ready.put(receiver.url)
        stop.wait()
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        stats.put(
            {
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
                "requests": receiver.requests,
                "failures_injected": receiver.failures,
                "bad_signatures": receiver.bad_signatures,
                "distinct_events_received": len(receiver.deliveries),
                "duplicate_deliveries": sum(receiver.deliveries.values()) - len(receiver.deliveries),
            }
        )


@contextmanager
def store_url(kind: str) -> Iterator[str]:
    """The operations store: a temporary SQLite file, or a throwaway database on the test PostgreSQL
    server (engines.py), dropped even when the run fails."""
    if kind == "sqlite":
        yield f"sqlite:///{tempfile.mkdtemp(prefix='factoring_outbox_')}/operations.db"
        return
    with engines.ServerDatabase(PG_ADMIN, "PostgreSQL (CARTERA_BENCH_PG_URL)") as url:
        yield url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--fail-rate", type=float, default=0.2)
    parser.add_argument("--store", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--receiver",
        choices=("uvicorn", "http.server"),
        default="uvicorn",
        help="uvicorn+httptools (default) or the sandbox's ThreadingHTTPServer receiver",
    )
    args = parser.parse_args()
    with store_url(args.store) as url:
        measure(args, url)


def measure(args: argparse.Namespace, url: str) -> None:
    import dagster as dg

    from cartera_pipelines.defs.factoring import tables
    from cartera_pipelines.defs.factoring.assets import outbox_deliveries
    from cartera_pipelines.lib.bulk import insert_rows
    from cartera_pipelines.resources.database import SqlDatabase
    from cartera_pipelines.resources.webhooks import WebhookSender
    from cartera_pipelines.sandbox.db import recreate_tables
    from cartera_pipelines.sandbox.factoring import outbox_rows

    recreate_tables(url, tables.OPERATIONS_TABLES).dispose()
    db = SqlDatabase(url=url, store="operations")
    with db.begin() as conn:
        insert_rows(conn, tables.outbox_events, outbox_rows(args.events, seed=1))
        # as in production (#17): one event typed in Spanish among the others, delivered like them
        conn.execute(
            tables.outbox_events.update()
            .where(tables.outbox_events.c.id == args.events // 2)
            .values(type="operación.aprobada")
        )

    ctx = mp.get_context("spawn")
    ready, stats_q, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    target = _asgi_receiver if args.receiver == "uvicorn" else _receiver
    child = ctx.Process(target=target, args=(args.fail_rate, ready, stop, stats_q), daemon=True)
    child.start()
    hook = ready.get(timeout=60)
    sender = WebhookSender(urls=[hook], secret=SECRET)
    print(
        f"delivering {args.events:,} events ({args.store}) to {hook}, failing {args.fail_rate:.0%} …",
        flush=True,
    )
    import resource

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    result = dg.materialize([outbox_deliveries], resources={"operations_db": db, "webhooks": sender})
    wall = time.perf_counter() - started
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    sender_cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    stop.set()
    receiver_stats = stats_q.get(timeout=30)
    child.join(timeout=10)
    md = {
        k: v.value
        for k, v in result.asset_materializations_for_node(outbox_deliveries.op.name)[0].metadata.items()
        if not isinstance(v.value, str) or len(v.value) < 200
    }
    with db.connect() as conn:
        undelivered = conn.execute(
            sa.select(sa.func.count())
            .select_from(tables.outbox_events)
            .where(tables.outbox_events.c.delivered_at.is_(None))
        ).scalar_one()
    db.dispose()
    figures = {
        "events": args.events,
        "store": args.store,
        "receiver": args.receiver,
        "fail_rate": args.fail_rate,
        "materialize_wall_seconds": round(wall, 2),
        "delivery_seconds": md.get("elapsed_seconds"),
        "delivery_cpu_seconds": md.get("cpu_seconds"),
        "sender_cpu_seconds": round(sender_cpu, 2),
        "events_per_second": md.get("events_per_second"),
        "delivered": md.get("delivered"),
        "retried": md.get("retried"),
        "parked": md.get("parked"),
        "undelivered_after_run": int(undelivered),
        "latency_ms_p50": md.get("latency_ms_p50"),
        "latency_ms_p95": md.get("latency_ms_p95"),
        "latency_ms_p99": md.get("latency_ms_p99"),
        "receiver_stats": receiver_stats,
        "target_seconds": TARGET_SECONDS,
        # The target is the delivery itself (the asset's loop, from first read to last commit); the
        # materialize wall time adds Dagster's in-process start-up and is reported next to it.
        "target_met": (md.get("elapsed_seconds") or 1e9) < TARGET_SECONDS and undelivered == 0,
        "load_average_1m": os.getloadavg()[0],
    }
    out = Path(__file__).parent / "results" / "factoring_outbox.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
