"""Sandbox data for the contifico family: the simulator's records, deterministic for (scale, seed).

The records live in a SQLite file (``targets.contifico_data_file``) that ``cartera sandbox serve``
serves; the simulator pages, filters and mutates them with SQL, so 200,000 records cost it little
memory. Payloads look like Contifico's: 16-character ids, ``dd/mm/yyyy`` dates, amounts as decimal
strings, nested persons and lines.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import sqlite3
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from cartera_pipelines.sandbox.targets import SandboxTargets

ALPHABET = string.ascii_letters + string.digits
ANCHOR = dt.date(2025, 12, 31)
"""Generated records were modified on or before this day; mutations use today's date."""
FIRST_DAY = dt.date(2024, 1, 1)
DATA_VERSION = "1"

Record = dict[str, Any]


@dataclass(frozen=True)
class Collection:
    """One simulator endpoint and its volume (small catalogs grow with the square root of scale)."""

    name: str
    path: str
    base: int
    small: bool = False
    modified: bool = False


COLLECTIONS: tuple[Collection, ...] = (
    Collection("categories", "v1/categoria/", 20, small=True),
    Collection("brands", "v1/marca/", 15, small=True),
    Collection("variants", "v1/variante/", 25, small=True),
    Collection("warehouses", "v1/bodega/", 4, small=True),
    Collection("cost_centers", "v1/contabilidad/centro-costo/", 8, small=True),
    Collection("chart_of_accounts", "v1/contabilidad/cuenta-contable/", 120, small=True),
    Collection("bank_accounts", "v1/banco/cuenta/", 4, small=True),
    Collection("persons", "v1/persona/", 250, modified=True),
    Collection("products", "v1/producto/", 300, modified=True),
    Collection("inventory_movements", "v2/movimiento-inventario/", 300, modified=True),
    Collection("remission_guides", "v2/inventario/guia/", 80, modified=True),
    Collection("registry_documents", "v2/registro/documento/", 600, modified=True),
    Collection("documents", "v2/documento/", 450, modified=True),
    Collection("registry_transactions", "v2/registro/transaccion/", 250, modified=True),
    Collection("journal_entries", "v2/contabilidad/asiento/", 300, modified=True),
    Collection("bank_movements", "v2/banco/movimiento/", 250, modified=True),
)
BY_NAME = {c.name: c for c in COLLECTIONS}
BY_PATH = {c.path: c for c in COLLECTIONS}


def counts_for_scale(scale: float) -> dict[str, int]:
    return {c.name: max(1, round(c.base * (math.sqrt(scale) if c.small else scale))) for c in COLLECTIONS}


def counts_for_total(total: int) -> dict[str, int]:
    """Volumes summing to exactly ``total`` (the benchmark asks for 200,000)."""
    low, high = 0.01, 10_000.0
    for _ in range(80):
        middle = (low + high) / 2
        if sum(counts_for_scale(middle).values()) < total:
            low = middle
        else:
            high = middle
    counts = counts_for_scale(high)
    counts["documents"] += total - sum(counts.values())
    return counts


# -- record generation -------------------------------------------------------------------------
def fmt_date(day: dt.date) -> str:
    return day.strftime("%d/%m/%Y")


def money(value: float) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


class Generator:
    """Deterministic records; every collection draws from its own RNG so volumes do not shift others."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.ids: set[str] = set()
        self.refs: dict[str, list[str]] = {}
        self.persons: list[Record] = []

    def rng(self, name: str, salt: int = 0) -> random.Random:
        return random.Random(f"{self.seed}:{name}:{salt}")

    def new_id(self, rng: random.Random) -> str:
        while True:
            candidate = "".join(rng.choices(ALPHABET, k=16))
            if candidate not in self.ids:
                self.ids.add(candidate)
                return candidate

    def day(self, rng: random.Random) -> dt.date:
        return FIRST_DAY + dt.timedelta(days=rng.randrange((ANCHOR - FIRST_DAY).days + 1))

    def pick(self, rng: random.Random, name: str) -> str | None:
        options = self.refs.get(name)
        return rng.choice(options) if options else None

    def person_ref(self, rng: random.Random) -> Record | None:
        if not self.persons:
            return None
        p = rng.choice(self.persons)
        return {
            "id": p["id"],
            "ruc": p["ruc"],
            "cedula": p["cedula"],
            "razon_social": p["razon_social"],
            "tipo": p["tipo"],
        }

    def record(self, name: str, rng: random.Random, n: int, today: dt.date | None = None) -> Record:
        """Record number ``n`` of a collection; ``today`` pins its dates (records added by a mutation)."""
        rid = self.new_id(rng)
        emitted = today or self.day(rng)
        modified = today or min(ANCHOR, emitted + dt.timedelta(days=rng.randrange(0, 30)))
        make: Callable[..., Record] = getattr(self, f"_{name}")
        record = {"id": rid, **make(rng, n, emitted)}
        if BY_NAME[name].modified:
            record["fecha_modificacion"] = fmt_date(modified)
        return record

    # one method per collection: the fields after ``id``
    def _categories(self, rng: random.Random, n: int, _d: dt.date) -> Record:
        parent = self.pick(rng, "categories") if n > 3 and rng.random() < 0.5 else None
        return {"nombre": f"Categoría {n}", "padre_id": parent, "tipo_producto": rng.choice(["PROD", "SERV"])}

    def _brands(self, rng: random.Random, n: int, _d: dt.date) -> Record:
        return {"nombre": f"Marca {n}"}

    def _variants(self, rng: random.Random, n: int, _d: dt.date) -> Record:
        return {
            "nombre": rng.choice(["Talla", "Color", "Material", "Presentación"]) + f" {n}",
            "valores": [f"V{n}-{k}" for k in range(rng.randint(1, 4))],
        }

    def _warehouses(self, rng: random.Random, n: int, _d: dt.date) -> Record:
        return {
            "codigo": f"B{n:03d}",
            "nombre": f"Bodega {n}",
            "venta": rng.random() < 0.8,
            "compra": True,
            "produccion": False,
        }

    def _cost_centers(self, rng: random.Random, n: int, _d: dt.date) -> Record:
        return {"codigo": f"CC{n:03d}", "nombre": f"Centro de costo {n}", "estado": "A"}

    def _chart_of_accounts(self, rng: random.Random, n: int, _d: dt.date) -> Record:
        level = 1 + n % 4
        return {
            "codigo": ".".join(str(1 + (n >> k) % 9) for k in range(level)) + f".{n:04d}",
            "nombre": f"Cuenta {n}",
            "tipo": rng.choice(["ACTIVO", "PASIVO", "PATRIMONIO", "INGRESO", "GASTO"]),
            "nivel": level,
        }

    def _bank_accounts(self, rng: random.Random, n: int, _d: dt.date) -> Record:
        return {
            "nombre": f"Cuenta bancaria {n}",
            "numero": f"{rng.randrange(10**9, 10**10)}",
            "banco": rng.choice(["Pichincha", "Guayaquil", "Pacífico", "Produbanco"]),
            "tipo_cuenta": rng.choice(["CORRIENTE", "AHORROS"]),
            "saldo_inicial": money(rng.uniform(0, 50_000)),
        }

    def _persons(self, rng: random.Random, n: int, _d: dt.date) -> Record:
        juridica = rng.random() < 0.4
        cedula = f"{rng.randrange(10**9, 10**10)}"
        return {
            "tipo": "J" if juridica else "N",
            "ruc": cedula + "001",
            "cedula": None if juridica else cedula,
            "razon_social": f"{'Comercial' if juridica else 'Persona'} {n} {'S.A.' if juridica else ''}".strip(),
            "nombre_comercial": f"Negocio {n}" if juridica else None,
            "email": f"contacto{n}@example.ec",
            "telefonos": f"09{rng.randrange(10**7, 10**8)}",
            "direccion": f"Av. {n} y Calle {n % 50}",
            "es_cliente": rng.random() < 0.8,
            "es_proveedor": rng.random() < 0.3,
            "es_empleado": False,
        }

    def _products(self, rng: random.Random, n: int, d: dt.date) -> Record:
        cost = rng.uniform(0.5, 400)
        return {
            "codigo": f"P{n:06d}",
            "nombre": f"Producto {n}",
            "descripcion": f"Descripción del producto {n}",
            "categoria_id": self.pick(rng, "categories"),
            "marca_id": self.pick(rng, "brands"),
            "tipo": rng.choice(["PRO", "PRO", "PRO", "SER"]),
            "estado": rng.choice(["A", "A", "A", "I"]),
            "pvp1": money(cost * 1.35),
            "pvp2": money(cost * 1.25),
            "costo_maximo": money(cost),
            "cantidad_stock": f"{rng.randrange(0, 500)}.{rng.randrange(0, 100):02d}",
            "minimo": f"{rng.randrange(0, 20)}.00",
            "porcentaje_iva": rng.choice(["0", "12", "15"]),
            "fecha_creacion": fmt_date(d),
        }

    def _lines(self, rng: random.Random) -> tuple[list[Record], Decimal]:
        lines, total = [], Decimal(0)
        for _ in range(rng.randint(1, 4)):
            quantity = Decimal(rng.randint(1, 20))
            price = Decimal(money(rng.uniform(1, 250)))
            total += quantity * price
            lines.append(
                {"producto_id": self.pick(rng, "products"), "cantidad": str(quantity), "precio": str(price)}
            )
        return lines, total

    def _inventory_movements(self, rng: random.Random, n: int, d: dt.date) -> Record:
        lines, total = self._lines(rng)
        return {
            "tipo": rng.choice(["ING", "EGR"]),
            "fecha": fmt_date(d),
            "bodega_id": self.pick(rng, "warehouses"),
            "codigo": f"MOV-{n:07d}",
            "descripcion": f"Movimiento {n}",
            "total": str(total),
            "detalles": lines,
        }

    def _remission_guides(self, rng: random.Random, n: int, d: dt.date) -> Record:
        return {
            "numero_documento": f"001-001-{n:09d}",
            "fecha_emision": fmt_date(d),
            "destinatario": self.person_ref(rng),
            "bodega_id": self.pick(rng, "warehouses"),
            "estado": rng.choice(["A", "P"]),
            "placa": f"GBA-{rng.randrange(1000, 9999)}",
        }

    def _document(self, rng: random.Random, n: int, d: dt.date, types: list[str]) -> Record:
        lines, subtotal = self._lines(rng)
        tax = (subtotal * Decimal("0.15")).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        total = subtotal + tax
        return {
            "tipo_documento": rng.choice(types),
            "documento": f"001-{1 + n % 3:03d}-{n:09d}",
            "fecha_emision": fmt_date(d),
            "persona": self.person_ref(rng),
            "subtotal": str(subtotal),
            "iva": str(tax),
            "total": str(total),
            "estado": rng.choice(["P", "C", "C", "A"]),
            "detalles": lines,
        }

    def _registry_documents(self, rng: random.Random, n: int, d: dt.date) -> Record:
        record = self._document(rng, n, d, ["FAC", "FAC", "FAC", "NCT", "LQC"])
        kind = "CLI" if rng.random() < 2 / 3 else "PRO"
        paid = Decimal(record["total"]) * Decimal(rng.choice(["0", "0.5", "1"]))
        return {
            "tipo_registro": kind,
            **record,
            "saldo": str((Decimal(record["total"]) - paid).quantize(Decimal("0.01"))),
        }

    def _documents(self, rng: random.Random, n: int, d: dt.date) -> Record:
        return self._document(rng, n, d, ["FAC", "FAC", "NCT", "PRE", "COT"])

    def _registry_transactions(self, rng: random.Random, n: int, d: dt.date) -> Record:
        return {
            "registro_id": self.pick(rng, "registry_documents"),
            "tipo": rng.choice(["EF", "CH", "TRA", "TC"]),
            "fecha": fmt_date(d),
            "monto": money(rng.uniform(5, 3000)),
            "cuenta_bancaria_id": self.pick(rng, "bank_accounts"),
            "comentario": f"Cobro {n}",
        }

    def _journal_entries(self, rng: random.Random, n: int, d: dt.date) -> Record:
        amount = money(rng.uniform(10, 10_000))
        return {
            "numero": f"AS-{n:07d}",
            "fecha": fmt_date(d),
            "glosa": f"Asiento {n}",
            "total_debe": amount,
            "total_haber": amount,
            "detalles": [
                {
                    "cuenta_id": self.pick(rng, "chart_of_accounts"),
                    "centro_costo_id": self.pick(rng, "cost_centers"),
                    "valor": amount,
                    "tipo": "D",
                },
                {
                    "cuenta_id": self.pick(rng, "chart_of_accounts"),
                    "centro_costo_id": None,
                    "valor": amount,
                    "tipo": "H",
                },
            ],
        }

    def _bank_movements(self, rng: random.Random, n: int, d: dt.date) -> Record:
        return {
            "cuenta_bancaria_id": self.pick(rng, "bank_accounts"),
            "tipo": rng.choice(["I", "E"]),
            "fecha": fmt_date(d),
            "monto": money(rng.uniform(1, 20_000)),
            "descripcion": f"Movimiento bancario {n}",
            "numero_comprobante": f"CB-{n:07d}",
        }


def index_columns(record: Record) -> tuple[str | None, str | None, str | None, str | None]:
    """(modified, emitted, tipo, tipo_registro) as the simulator filters them (ISO dates)."""

    def iso(value: Any) -> str | None:
        if not isinstance(value, str) or len(value) < 10:
            return None
        return f"{value[6:10]}-{value[3:5]}-{value[0:2]}"

    emitted = record.get("fecha_emision") or record.get("fecha")
    tipo = record.get("tipo_documento") or record.get("tipo")
    return iso(record.get("fecha_modificacion")), iso(emitted), tipo, record.get("tipo_registro")


def generate(counts: dict[str, int], seed: int) -> Iterator[tuple[Collection, int, Record]]:
    generator = Generator(seed)
    for collection in COLLECTIONS:
        rng = generator.rng(collection.name)
        keep_refs = collection.name != "documents"
        refs = generator.refs.setdefault(collection.name, [])
        for n in range(1, counts[collection.name] + 1):
            record = generator.record(collection.name, rng, n)
            if keep_refs and len(refs) < 5_000:
                refs.append(record["id"])
            if collection.name == "persons" and len(generator.persons) < 5_000:
                generator.persons.append(record)
            yield collection, n, record


SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (
    coll TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL, body TEXT NOT NULL,
    modified TEXT, emitted TEXT, tipo TEXT, tipo_registro TEXT,
    PRIMARY KEY (coll, seq)
);
CREATE UNIQUE INDEX records_id ON records (coll, id);
CREATE INDEX records_modified ON records (coll, modified);
CREATE INDEX records_emitted ON records (coll, emitted);
"""


def write_data_file(
    path: Path, *, scale: float = 1, seed: int = 42, total: int | None = None
) -> dict[str, int]:
    """(Re)create the simulator's SQLite file; returns records per collection."""
    counts = counts_for_total(total) if total else counts_for_scale(scale)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + SCHEMA)
        rows = (
            (c.path, n, r["id"], json.dumps(r, ensure_ascii=False, separators=(",", ":")), *index_columns(r))
            for c, n, r in generate(counts, seed)
        )
        conn.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        meta = {
            "version": DATA_VERSION,
            "seed": str(seed),
            "scale": str(scale),
            "total": str(sum(counts.values())),
        }
        conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
        conn.commit()
    finally:
        conn.close()
    tmp.replace(path)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return counts


def data_file_matches(path: Path, *, scale: float | None, seed: int | None) -> bool:
    """Whether ``path`` holds records of this data version (and of ``scale``/``seed`` unless None)."""
    if not path.exists():
        return False
    try:
        conn = sqlite3.connect(path)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta"))
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return (
        meta.get("version") == DATA_VERSION
        and (seed is None or meta.get("seed") == str(seed))
        and (scale is None or meta.get("scale") == str(scale))
    )


def build(targets: SandboxTargets, *, scale: int = 1, seed: int = 42) -> dict[str, int]:
    """Write the simulator's records; returns records per endpoint collection."""
    counts = write_data_file(targets.contifico_data_file, scale=scale, seed=seed)
    return {f"contifico:{name}": n for name, n in counts.items()}
