"""A small hand-built Contifico warehouse for the inventory analytics tests, shaped like the synced
tables (ids, typed columns, raw JSON, line tables) and small enough to recompute by hand.

As of 2026-03-31 (Ecuador): credit notes (one larger than its product's sales in the window), a voided
invoice, a liquidation (LQC) and a deleted invoice that must be left out, an invoice after ``as_of``,
zero-stock and dead-stock products, a service, a product in two warehouses (ledger), and a supplier with
one delivery plus a purchase never delivered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa

from cartera_pipelines.defs.contifico.tables import CHILD_TABLES, RESOURCE_TABLES
from cartera_pipelines.lib.schema import ensure_schema

AS_OF = dt.date(2026, 3, 31)
NOW = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
D = Decimal


@dataclass(frozen=True)
class Product:
    id: str
    stock: Decimal
    cost: Decimal
    minimum: Decimal | None
    category: str | None
    kind: str = "PRO"


@dataclass(frozen=True)
class Document:
    id: str
    kind: str  # FAC, NCT, LQC
    day: dt.date
    lines: tuple[tuple[str, Decimal], ...]
    person: str = "C1"
    status: str = "P"
    deleted: bool = False


@dataclass(frozen=True)
class Movement:
    id: str
    kind: str  # ING, EGR
    day: dt.date
    warehouse: str
    lines: tuple[tuple[str, Decimal], ...]


@dataclass
class Dataset:
    warehouses: dict[str, str] = field(default_factory=dict)
    products: list[Product] = field(default_factory=list)
    sales: list[Document] = field(default_factory=list)
    purchases: list[Document] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)


def day(month: int, d: int, year: int = 2026) -> dt.date:
    return dt.date(year, month, d)


def small_dataset() -> Dataset:
    return Dataset(
        warehouses={"W1": "Bodega Norte", "W2": "Bodega Sur/Centro"},
        products=[
            Product("P1", D("100"), D("2.50"), D("10"), "C1"),
            Product("P2", D("0"), D("10.00"), D("5"), "C1"),
            Product("P3", D("50"), D("4.00"), D("0"), "C2"),
            Product("P4", D("0"), D("0"), None, "C2", kind="SER"),
            Product("P5", D("99"), D("1.00"), D("8"), None),
        ],
        sales=[
            Document("S1", "FAC", day(3, 25), (("P1", D("10")), ("P2", D("4")))),
            Document("S2", "FAC", day(2, 15), (("P1", D("30")),)),
            Document("S3", "NCT", day(3, 28), (("P1", D("2")),)),
            Document("S4", "FAC", day(3, 10), (("P1", D("100")),), status="A"),
            Document("S5", "FAC", day(9, 12, 2025), (("P3", D("7")),)),
            Document("S6", "FAC", day(3, 30), (("P5", D("6")),)),
            Document("S7", "NCT", day(3, 30), (("P2", D("6")),)),
            Document("S8", "LQC", day(3, 29), (("P1", D("50")),)),
            Document("S9", "FAC", day(4, 2), (("P1", D("9")),)),
            Document("S10", "FAC", day(3, 29), (("P1", D("40")),), deleted=True),
        ],
        purchases=[
            Document("B1", "FAC", day(1, 5), (("P1", D("120")),), person="U1"),
            Document("B2", "FAC", day(1, 12), (("P1", D("40")),), person="U1"),
            Document("B3", "FAC", day(3, 1), (("P5", D("10")),), person="U2"),
            Document("B4", "FAC", day(3, 20), (("P3", D("5")),), person="U2"),
            Document("B5", "FAC", day(1, 1, 2025), (("P1", D("70")),), person="U1"),
        ],
        movements=[
            Movement("M1", "ING", day(1, 10), "W1", (("P1", D("80")),)),
            Movement("M2", "ING", day(1, 15), "W2", (("P1", D("40")),)),
            Movement("M3", "EGR", day(3, 20), "W1", (("P1", D("20")),)),
            Movement("M4", "EGR", day(3, 25), "W2", (("P1", D("5")),)),
            Movement("M5", "ING", day(3, 8), "W1", (("P5", D("10")),)),
            Movement("M6", "EGR", day(3, 30), "W1", (("P5", D("7")),)),
            Movement("M7", "EGR", day(4, 3), "W1", (("P5", D("1")),)),
        ],
    )


def _bookkeeping(record_id: str, raw: dict) -> dict:
    return {"id": record_id, "raw": raw, "content_hash": "0" * 64, "first_seen_at": NOW, "fetched_at": NOW}


def _lines(parent: str, lines: tuple[tuple[str, Decimal], ...], kind: str) -> list[dict]:
    rows = []
    for n, (product, quantity) in enumerate(lines, start=1):
        row = {
            "parent_id": parent,
            "line_number": n,
            "product_id": product,
            "quantity": quantity,
            "price": D("1"),
            "raw": {"producto_id": product, "cantidad": str(quantity)},
        }
        if kind == "document":
            row |= {"discount": None, "tax": D("15")}
        rows.append(row)
    return rows


def _document_rows(docs: list[Document]) -> tuple[list[dict], list[dict]]:
    headers, lines = [], []
    for doc in docs:
        raw = {"tipo_documento": doc.kind, "fecha_emision": doc.day.strftime("%d/%m/%Y")}
        headers.append(
            _bookkeeping(doc.id, raw)
            | {
                "document_type": doc.kind,
                "document_date": doc.day,
                "person_id": doc.person,
                "status": doc.status,
                "deleted_at": NOW if doc.deleted else None,
            }
        )
        lines += _lines(doc.id, doc.lines, "document")
    return headers, lines


def load(engine: sa.Engine, data: Dataset) -> None:
    """Create the warehouse schema and write ``data`` into the synced tables."""
    ensure_schema(engine)
    sales, sales_lines = _document_rows(data.sales)
    purchases, purchases_lines = _document_rows(data.purchases)
    movements, movement_lines = [], []
    for m in data.movements:
        movements.append(
            _bookkeeping(m.id, {"tipo": m.kind})
            | {"document_type": m.kind, "document_date": m.day, "warehouse_id": m.warehouse}
        )
        movement_lines += _lines(m.id, m.lines, "movement")
    products = [
        _bookkeeping(p.id, {"codigo": p.id})
        | {
            "stock": p.stock,
            "cost": p.cost,
            "minimum_stock": p.minimum,
            "category_id": p.category,
            "product_type": p.kind,
        }
        for p in data.products
    ]
    warehouses = [_bookkeeping(k, {"nombre": v}) | {"name": v, "code": k} for k, v in data.warehouses.items()]
    writes = [
        (RESOURCE_TABLES["warehouses"], warehouses),
        (RESOURCE_TABLES["products"], products),
        (RESOURCE_TABLES["sales"], sales),
        (CHILD_TABLES["sales_lines"], sales_lines),
        (RESOURCE_TABLES["purchases"], purchases),
        (CHILD_TABLES["purchases_lines"], purchases_lines),
        (RESOURCE_TABLES["inventory_movements"], movements),
        (CHILD_TABLES["inventory_movement_lines"], movement_lines),
    ]
    with engine.begin() as conn:
        for table, rows in writes:
            conn.execute(table.delete())
            if rows:
                conn.execute(table.insert(), rows)
