"""Sandbox demo data for the factoring family: the operations store of the cession API.

Deterministic for a (seed, scale, today) triple; ``today`` defaults to the current date in Chile so the
demo always has invoices due yesterday, today and tomorrow. Consistent by construction: every RUT is
valid (written in the many spellings the API let through), every operation's stored discount and
payout follow the pricing formula, and every client's available line is its line minus its open
operations — the exposure checks pass, and a test corrupts one row to see them fail.

scale=1: 40 clients, 2,000 invoices, ~450 operations, 60 outbox events (most undelivered).
Volumes grow linearly with ``scale`` (``invoices_per_scale`` / ``events_per_scale`` for benchmarks).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from stdnum.cl.rut import calc_check_digit

from cartera_pipelines.defs.factoring import pricing, tables
from cartera_pipelines.defs.factoring.states import OPEN_OPERATIONS
from cartera_pipelines.lib.bulk import insert_rows
from cartera_pipelines.lib.dates import SANTIAGO, today_in
from cartera_pipelines.sandbox.db import recreate_tables
from cartera_pipelines.sandbox.defaults import WEBHOOK_PATH
from cartera_pipelines.sandbox.targets import SandboxTargets

CLIENTS_PER_SCALE = 40
INVOICES_PER_SCALE = 2_000
EVENTS_PER_SCALE = 60
CENT = Decimal("0.01")

_RAZONES = (
    "Comercial",
    "Distribuidora",
    "Importadora",
    "Constructora",
    "Transportes",
    "Agrícola",
    "Inversiones",
    "Servicios",
    "Ferretería",
    "Frutícola",
    "Maderas",
    "Textil",
)
_APELLIDOS = (
    "Andes",
    "Pacífico",
    "Maule",
    "Biobío",
    "Atacama",
    "Los Lagos",
    "Aconcagua",
    "Elqui",
    "Valdivia",
    "Osorno",
    "Limarí",
    "Cachapoal",
    "Itata",
    "Ñuble",
    "Copiapó",
    "Tarapacá",
)
_SUFIJOS = ("SpA", "Ltda.", "S.A.", "EIRL")


def spell_rut(body: int, rng: random.Random) -> str:
    """One of the spellings the legacy API accepted for a valid RUT."""
    digit = calc_check_digit(str(body))
    plain = str(body)
    dotted = f"{body:,}".replace(",", ".")
    style = rng.randrange(8)
    if style == 0:
        return f"{plain}{digit}"
    if style == 1:
        return f"{plain}-{digit}"
    if style == 2:
        return f"0{dotted}-{digit}"
    if style == 3:
        return f"{dotted}\u2013{digit}"  # en dash from a spreadsheet
    if style == 4:
        return f"{dotted} - {digit.lower()}"
    if style == 5:
        return f"{plain} {digit.lower()}"
    return f"{dotted}-{digit}"


def _rut_body(rng: random.Random, company: bool = True) -> int:
    return rng.randrange(76_000_000, 78_000_000) if company else rng.randrange(5_000_000, 25_000_000)


def _money(rng: random.Random, low: int, high: int) -> Decimal:
    return (Decimal(rng.randrange(low * 100, high * 100)) / 100).quantize(CENT)


def build(
    targets: SandboxTargets, *, scale: int = 1, seed: int = 42, today: dt.date | None = None
) -> dict[str, int]:
    """(Re)create the factoring tables in the operations store and fill them."""
    today = today or today_in(SANTIAGO)
    rng = random.Random(seed)
    payments = random.Random(seed + 7)  # its own stream: the rest of the data stays as it was
    now = dt.datetime.combine(today, dt.time(9, 0), tzinfo=dt.UTC)
    n_clients = CLIENTS_PER_SCALE * scale
    n_invoices = INVOICES_PER_SCALE * scale

    used: set[int] = set()

    def fresh_body(company: bool) -> int:
        while (body := _rut_body(rng, company)) in used:
            pass
        used.add(body)
        return body

    # Debtors: a shared pool; each invoice spells its debtor's RUT its own way.
    debtors = [fresh_body(rng.random() < 0.8) for _ in range(max(30, 4 * n_clients))]
    clients: list[dict[str, Any]] = []
    for cid in range(1, n_clients + 1):
        clients.append(
            {
                "id": cid,
                "rut": spell_rut(fresh_body(True), rng),
                "razon_social": f"{rng.choice(_RAZONES)} {rng.choice(_APELLIDOS)} {rng.choice(_SUFIJOS)}",
                "estado": "bloqueado" if rng.random() < 0.05 else "activo",
                "created_at": now - dt.timedelta(days=rng.randrange(200, 2000)),
            }
        )

    invoices: list[dict[str, Any]] = []
    per_client = [[] for _ in range(n_clients + 1)]
    for fid in range(1, n_invoices + 1):
        cid = rng.randrange(1, n_clients + 1)
        # Each client sells mostly to a few debtors: concentration is the point of the exposure report.
        debtor_pool = debtors[(cid * 7) % len(debtors) :][:6] or debtors[:6]
        emision = today - dt.timedelta(days=rng.randrange(0, 150))
        vencimiento = emision + dt.timedelta(days=rng.choice((30, 30, 45, 60, 60, 90, 120)))
        invoices.append(
            {
                "id": fid,
                "cliente_id": cid,
                "numero_factura": f"F{cid:04d}-{fid:08d}",
                "rut_deudor": spell_rut(rng.choice(debtor_pool), rng),
                "monto_total": _money(rng, 150_000, 25_000_000),
                "fecha_emision": emision,
                "fecha_vencimiento": vencimiento,
                "estado": "disponible",
                "updated_at": now,
            }
        )
        per_client[cid].append(fid - 1)

    # Boundary invoices for the batch, in Chile's calendar: due yesterday (overdue), today and tomorrow.
    for k, offset in enumerate((-1, -1, 0, 0, 1, 1)):
        inv = invoices[k]
        inv["fecha_vencimiento"] = today + dt.timedelta(days=offset)
        inv["fecha_emision"] = inv["fecha_vencimiento"] - dt.timedelta(days=30)
    boundary = set(range(6))

    operations: list[dict[str, Any]] = []
    links: list[dict[str, int]] = []
    op_events: list[dict[str, Any]] = []
    op_id = 0
    for cid in range(1, n_clients + 1):
        pool = [i for i in per_client[cid] if i not in boundary]
        rng.shuffle(pool)
        target = len(pool) // 2  # about half of each client's invoices go through an operation
        while len(pool) > target:
            chosen = [pool.pop() for _ in range(min(len(pool), rng.randint(1, 4)))]
            group = [invoices[i] for i in chosen]
            fecha = max(g["fecha_emision"] for g in group) + dt.timedelta(days=rng.randrange(0, 5))
            if max(g["fecha_vencimiento"] for g in group) <= fecha:
                continue
            op_id += 1
            estado = rng.choices(OPERATION_STATES, weights=(10, 30, 8, 30, 22))[0]
            total = sum((g["monto_total"] for g in group), Decimal(0))
            tasa = Decimal(rng.randrange(1200, 3200)) / 100
            priced = pricing.price(total, tasa, fecha, (g["fecha_vencimiento"] for g in group))
            operations.append(
                {
                    "id": op_id,
                    "cliente_id": cid,
                    "fecha_solicitud": fecha,
                    "monto_total_facturas": total,
                    "tasa_descuento": tasa,
                    "monto_descuento": priced.monto_descuento,
                    "monto_a_desembolsar": priced.monto_a_desembolsar,
                    "estado": estado,
                    "created_at": dt.datetime.combine(fecha, dt.time(10, 0), tzinfo=dt.UTC),
                }
            )
            invoice_state = {
                "pendiente": "en_proceso",
                "aprobada": "cedida",
                "desembolsada": "cedida",
                "finalizada": "pagada",
                "rechazada": "disponible",
            }[estado]
            for g in group:
                g["estado"] = invoice_state
                # Debtors pay ceded invoices while the operation stays open: outstanding < face value.
                if estado == "desembolsada" and payments.random() < 0.25:
                    g["estado"] = "pagada"
                links.append({"operacion_id": op_id, "factura_id": g["id"]})
            op_events.append(
                {
                    "operacion_id": op_id,
                    "tipo": "cambio_estado",
                    "estado_anterior": "pendiente",
                    "estado_nuevo": estado,
                    "detalle": None,
                    "created_at": dt.datetime.combine(fecha, dt.time(12, 0), tzinfo=dt.UTC),
                }
            )
        # Invoices never ceded: some paid or voided, some already marked vencida, the rest disponible.
        for i in pool:
            inv = invoices[i]
            roll = rng.random()
            if roll < 0.15:
                inv["estado"] = "pagada"
            elif roll < 0.22:
                inv["estado"] = "anulada"
            elif roll < 0.32 and inv["fecha_vencimiento"] < today - dt.timedelta(days=3):
                inv["estado"] = "vencida"

    open_by_client: dict[int, Decimal] = {}
    for op in operations:
        if op["estado"] in OPEN_OPERATIONS:
            open_by_client[op["cliente_id"]] = (
                open_by_client.get(op["cliente_id"], Decimal(0)) + op["monto_total_facturas"]
            )
    for c in clients:
        used_line = open_by_client.get(c["id"], Decimal(0))
        headroom = Decimal(rng.choice(("1.15", "1.4", "2", "3")))
        line = max(Decimal(50_000_000), (used_line * headroom / 1_000_000).to_integral_value() * 1_000_000)
        c["linea_credito"] = line.quantize(CENT)
        c["linea_disponible"] = (line - used_line).quantize(CENT)

    # Invoices an earlier batch already marked carry that batch's event, as the real ones do.
    invoice_events = [
        {
            "factura_id": inv["id"],
            "cliente_id": inv["cliente_id"],
            "tipo": "vencida",
            "estado_anterior": "disponible",
            "estado_nuevo": "vencida",
            "fecha_referencia": inv["fecha_vencimiento"] + dt.timedelta(days=1),
            "origen": "facturas_vencidas",
            "run_id": None,
            "created_at": dt.datetime.combine(
                inv["fecha_vencimiento"] + dt.timedelta(days=1), dt.time(3, 30), tzinfo=dt.UTC
            ),
        }
        for inv in invoices
        if inv["estado"] == "vencida"
    ]
    events = list(outbox_rows(EVENTS_PER_SCALE * scale, seed=seed, now=now, delivered_share=0.2))

    engine = recreate_tables(targets.operations_url, tables.OPERATIONS_TABLES)
    counts: dict[str, int] = {}
    try:
        with engine.begin() as conn:
            tables.apply_storage_options(conn)
            for table, rows in (
                (tables.clientes, clients),
                (tables.facturas, invoices),
                (tables.operaciones_cesion, operations),
                (tables.operacion_facturas, links),
                (tables.operacion_eventos, op_events),
                (tables.factura_eventos, invoice_events),
                (tables.outbox_events, events),
            ):
                counts[table.name] = insert_rows(conn, table, rows)
            reset_sequences(conn)
    finally:
        engine.dispose()
    return counts


OPERATION_STATES = ("pendiente", "aprobada", "rechazada", "desembolsada", "finalizada")


def outbox_rows(
    n: int, *, seed: int = 42, now: dt.datetime | None = None, delivered_share: float = 0.0, start_id: int = 1
) -> Iterator[dict[str, Any]]:
    """``n`` outbox events (ids from ``start_id``); ``delivered_share`` of them already delivered."""
    rng = random.Random(seed + 1)
    now = now or dt.datetime.now(dt.UTC)
    kinds = ("operacion.aprobada", "operacion.desembolsada", "operacion.rechazada", "factura.cedida")
    for k in range(n):
        eid = start_id + k
        created = now - dt.timedelta(minutes=n - k)
        delivered = rng.random() < delivered_share
        yield {
            "id": eid,
            "event_id": f"evt_{seed:04d}_{eid:08d}",
            "type": rng.choice(kinds),
            "payload": {
                "operacion_id": rng.randrange(1, 10_000),
                "cliente_rut": spell_rut(_rut_body(rng), rng),
                "monto": format(_money(rng, 100_000, 50_000_000), "f"),
                "nota": "cesión ñandú",
            },
            "created_at": created,
            "delivered_at": created + dt.timedelta(seconds=2) if delivered else None,
            "attempts": 1 if delivered else 0,
            "last_error": None,
            "next_attempt_at": None,
            "parked_at": None,
        }


def reset_sequences(conn: sa.Connection) -> None:
    """After inserting explicit ids, move PostgreSQL's sequences past them (the API inserts next)."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables.OPERATIONS_TABLES:
        if "id" not in table.c or table.name == "operacion_facturas":
            continue
        conn.execute(
            sa.text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )


class WebhookReceiver:
    """A local webhook endpoint for the demo, tests and benchmarks (``ThreadingHTTPServer``).

    Verifies ``X-Cartera-Signature`` against ``secret``, records every request by ``Idempotency-Key``
    (percent-decoded, as a receiver reads the header back into the event id), and answers 503 to a deterministic ``fail_rate`` share of the requests (after reading the body, as a
    flaky receiver would). ``latency_seconds`` slows every answer down.
    """

    def __init__(
        self,
        secret: str,
        *,
        fail_rate: float = 0.0,
        seed: int = 7,
        latency_seconds: float = 0.0,
        port: int = 0,
    ) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import unquote

        from cartera_pipelines.resources.webhooks import (
            EVENT_HEADER,
            IDEMPOTENCY_HEADER,
            SIGNATURE_HEADER,
            verify,
        )

        expected_headers = {name.lower() for name in (EVENT_HEADER, IDEMPOTENCY_HEADER, SIGNATURE_HEADER)}

        self.secret = secret
        self.fail_rate = fail_rate
        self.latency_seconds = latency_seconds
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.requests = 0
        self.failures = 0
        self.bad_signatures = 0
        self.deliveries: dict[str, int] = {}
        """Successful (2xx) deliveries per event id."""
        self.bodies: dict[str, bytes] = {}
        self.signatures: dict[str, str] = {}
        """Body and signature header of the last successful delivery per event id."""
        self.event_types: dict[str, str] = {}
        self.idempotency_keys: dict[str, str] = {}
        """The ``X-Cartera-Event`` and ``Idempotency-Key`` headers as they arrived, per event id."""
        self.unexpected_headers: set[str] = set()
        """Names of ``X-…`` headers the sender never sends (what a header injection would add)."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                import time as _time

                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                raw_key = self.headers.get(IDEMPOTENCY_HEADER, "")
                event_id = unquote(raw_key)
                good = verify(receiver.secret, body, self.headers.get(SIGNATURE_HEADER, ""))
                with receiver._lock:
                    receiver.requests += 1
                    receiver.event_types[event_id] = self.headers.get(EVENT_HEADER, "")
                    receiver.idempotency_keys[event_id] = raw_key
                    receiver.unexpected_headers |= {
                        name
                        for name in self.headers
                        if name.lower().startswith("x-") and name.lower() not in expected_headers
                    }
                    fail = receiver._rng.random() < receiver.fail_rate
                    if not good:
                        receiver.bad_signatures += 1
                    elif fail:
                        receiver.failures += 1
                    else:
                        receiver.deliveries[event_id] = receiver.deliveries.get(event_id, 0) + 1
                        receiver.bodies[event_id] = body
                        receiver.signatures[event_id] = self.headers.get(SIGNATURE_HEADER, "")
                if receiver.latency_seconds:
                    _time.sleep(receiver.latency_seconds)
                status, answer = (
                    (401, b'{"error":"bad signature"}')
                    if not good
                    else ((503, b'{"error":"try later"}') if fail else (200, b'{"ok":true}'))
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # The default backlog of 5 resets connections when a sender opens 16 at once.
            request_queue_size = 128

        self._server = Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="webhook-receiver"
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{WEBHOOK_PATH}"

    @property
    def successes(self) -> int:
        with self._lock:
            return sum(self.deliveries.values())

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
