"""The factoring sandbox: deterministic, consistent (checks pass on it), on SQLite and PostgreSQL."""

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from cartera_pipelines.defs.factoring import pricing, rut, tables
from cartera_pipelines.defs.factoring.states import ESTADOS_FACTURA, ESTADOS_OPERACION
from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines.sandbox import factoring
from cartera_pipelines.sandbox.targets import SandboxTargets

TODAY = dt.date(2026, 3, 9)


def _build(url: str, tmp_path: Path, scale: int = 1, seed: int = 42) -> dict[str, int]:
    targets = SandboxTargets(
        home=tmp_path,
        lending_url="",
        operations_url=url,
        warehouse_url="",
        tns_servers_file=tmp_path / "tables.yaml",
    )
    return factoring.build(targets, scale=scale, seed=seed, today=TODAY)


def _dump(url: str) -> dict[str, list[tuple]]:
    engine = create_store_engine(url)
    with engine.connect() as conn:
        dump = {
            table.name: [
                tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))
            ]
            for table in tables.OPERATIONS_TABLES
        }
    engine.dispose()
    return dump


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    a, b, c = (f"sqlite:///{tmp_path / n}.db" for n in "abc")
    counts = _build(a, tmp_path)
    _build(b, tmp_path)
    _build(c, tmp_path, seed=7)
    assert _dump(a) == _dump(b) != _dump(c)
    assert counts["clientes"] == 40 and counts["facturas"] == 2000 and counts["outbox_events"] == 60


def test_consistent_and_varied(postgres_url: str, tmp_path: Path) -> None:
    _build(postgres_url, tmp_path)
    engine = create_store_engine(postgres_url)
    with engine.begin() as conn:
        clients = conn.execute(sa.select(tables.clientes)).all()
        invoices = {r.id: r for r in conn.execute(sa.select(tables.facturas))}
        ops = conn.execute(sa.select(tables.operaciones_cesion)).all()
        links = conn.execute(sa.select(tables.operacion_facturas)).all()
        outbox = conn.execute(sa.select(tables.outbox_events)).all()
        # Sequences were moved past the explicit ids: the API's next insert works.
        conn.execute(
            tables.clientes.insert().values(
                rut="76.086.428-5",
                razon_social="Nueva SpA",
                linea_credito=1,
                linea_disponible=1,
                estado="activo",
            )
        )
    engine.dispose()

    ruts = [c.rut for c in clients] + [i.rut_deudor for i in invoices.values()]
    assert all(rut.is_valid(r) for r in ruts)
    assert sum(r != rut.normalize(r) for r in ruts) > len(ruts) / 2  # written every which way
    assert any("\u2013" in r for r in ruts) and any(r.endswith("k") for r in ruts)

    assert {i.estado for i in invoices.values()} == set(ESTADOS_FACTURA)
    assert {o.estado for o in ops} == set(ESTADOS_OPERACION)
    for offset in (-1, 0, 1):
        day = TODAY + dt.timedelta(days=offset)
        assert any(i.fecha_vencimiento == day and i.estado == "disponible" for i in invoices.values())

    per_op = defaultdict(list)
    for link in links:
        per_op[link.operacion_id].append(invoices[link.factura_id])
    open_by_client: dict[int, Decimal] = defaultdict(Decimal)
    partly_paid = 0
    for op in ops:
        members = per_op[op.id]
        assert sum(Decimal(m.monto_total) for m in members) == Decimal(op.monto_total_facturas)
        expected = pricing.price(
            op.monto_total_facturas,
            op.tasa_descuento,
            op.fecha_solicitud,
            [m.fecha_vencimiento for m in members],
        )
        assert (Decimal(op.monto_descuento), Decimal(op.monto_a_desembolsar)) == (
            expected.monto_descuento,
            expected.monto_a_desembolsar,
        )
        if op.estado in ("aprobada", "desembolsada"):
            open_by_client[op.cliente_id] += Decimal(op.monto_total_facturas)
            paid_too = ("cedida", "pagada") if op.estado == "desembolsada" else ("cedida",)
            assert all(m.estado in paid_too for m in members)
            partly_paid += any(m.estado == "pagada" for m in members)
    assert partly_paid > 10  # open operations whose debtors paid some invoices: outstanding < face value
    for c in clients:
        assert Decimal(c.linea_disponible) == Decimal(c.linea_credito) - open_by_client[c.id]

    undelivered = [e for e in outbox if e.delivered_at is None]
    assert 30 < len(undelivered) < len(outbox)


def test_scales(tmp_path: Path) -> None:
    counts = _build(f"sqlite:///{tmp_path / 's.db'}", tmp_path, scale=3)
    assert counts["facturas"] == 6000 and counts["clientes"] == 120 and counts["outbox_events"] == 180
