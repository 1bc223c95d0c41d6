"""``prestamos`` and ``cuotas`` shaped as the lender's own system creates them, not as our sandbox does.

Two shapes, on SQLite, PostgreSQL and MariaDB:

* ``timestamp``: dates are TIMESTAMP (MariaDB DATETIME), the principal and rate DOUBLE PRECISION, text
  VARCHAR(255)/TEXT, installment amounts NUMERIC(15,2);
* ``timestamptz``: dates are TIMESTAMPTZ (MariaDB TIMESTAMP, SQLite "TIMESTAMP WITH TIME ZONE"), the
  principal DECIMAL(15,2), the count NUMERIC(4,0), installment amounts DOUBLE PRECISION.

Values are written through the reflected tables, so each driver stores them its own way (SQLite keeps
timestamps as text, PostgreSQL converts aware timestamps to UTC, …), and read back raw by the tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from cartera_pipelines.resources.database import create_store_engine

BOGOTA = ZoneInfo("America/Bogota")
SHAPES = ("timestamp", "timestamptz")

_TYPES: dict[str, dict[str, dict[str, str]]] = {
    "timestamp": {
        "postgresql": {"date": "TIMESTAMP", "principal": "DOUBLE PRECISION", "rate": "DOUBLE PRECISION",
                       "count": "INTEGER", "money": "NUMERIC(15,2)", "id": "SERIAL", "bigid": "BIGSERIAL"},
        "mysql": {"date": "DATETIME NULL", "principal": "DOUBLE", "rate": "DOUBLE", "count": "INTEGER",
                  "money": "DECIMAL(15,2)", "id": "INTEGER AUTO_INCREMENT", "bigid": "BIGINT AUTO_INCREMENT"},
        "sqlite": {"date": "TIMESTAMP", "principal": "DOUBLE PRECISION", "rate": "DOUBLE PRECISION",
                   "count": "INTEGER", "money": "NUMERIC(15,2)", "id": "INTEGER", "bigid": "INTEGER"},
    },
    "timestamptz": {
        "postgresql": {"date": "TIMESTAMPTZ", "principal": "DECIMAL(15,2)", "rate": "NUMERIC(5,2)",
                       "count": "NUMERIC(4,0)", "money": "DOUBLE PRECISION", "id": "SERIAL", "bigid": "BIGSERIAL"},
        "mysql": {"date": "TIMESTAMP NULL", "principal": "DECIMAL(15,2)", "rate": "NUMERIC(5,2)",
                  "count": "NUMERIC(4,0)", "money": "DOUBLE", "id": "INTEGER AUTO_INCREMENT",
                  "bigid": "BIGINT AUTO_INCREMENT"},
        "sqlite": {"date": "TIMESTAMP WITH TIME ZONE", "principal": "DECIMAL(15,2)", "rate": "NUMERIC(5,2)",
                   "count": "NUMERIC(4,0)", "money": "DOUBLE PRECISION", "id": "INTEGER", "bigid": "INTEGER"},
    },
}  # fmt: skip


def create_tables(
    url: str, shape: str, *, drop: Iterable[str] = (), override: Mapping[str, str] = {}
) -> None:
    """Create the lender's ``prestamos`` and ``cuotas`` in ``shape``; ``drop`` leaves columns out,
    ``override`` gives a column another SQL type (``{"fecha_base_calculo": "BOOLEAN"}``)."""
    engine = create_store_engine(url)
    kinds = _TYPES[shape][engine.dialect.name]
    money = kinds["money"]
    prestamos = {
        "id": f"{kinds['id']} PRIMARY KEY",
        "total_financiamiento": kinds["principal"],
        "numero_cuotas": kinds["count"],
        "tasa_interes": kinds["rate"],
        "modalidad_pago": "VARCHAR(255)",
        "metodo_amortizacion": "TEXT",
        "fecha_base_calculo": kinds["date"],
        "estado": "VARCHAR(255) NOT NULL",
        "observaciones": "TEXT",
    }
    cuotas = {
        "id": f"{kinds['bigid']} PRIMARY KEY",
        "prestamo_id": "INTEGER NOT NULL REFERENCES prestamos(id)",
        "numero_cuota": "INTEGER NOT NULL",
        "fecha_vencimiento": kinds["date"],
        **{
            name: money
            for name in (
                "monto_cuota",
                "monto_capital",
                "monto_interes",
                "saldo_capital_inicial",
                "saldo_capital_final",
                "capital_pagado",
                "interes_pagado",
                "mora_pagada",
                "total_pagado",
                "capital_pendiente",
                "interes_pendiente",
            )
        },
        "estado": "VARCHAR(255)",
    }
    with engine.begin() as conn:
        for table, columns in (("prestamos", prestamos), ("cuotas", cuotas)):
            body = [
                f"{name} {override.get(name, kind)}" for name, kind in columns.items() if name not in drop
            ]
            if table == "cuotas":
                body.append("UNIQUE (prestamo_id, numero_cuota)")
            conn.exec_driver_sql(f"CREATE TABLE {table} ({', '.join(body)})")
    engine.dispose()


def insert(url: str, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert through the driver itself, as the lender's service would (sqlite3 has no Decimal: text)."""
    if not rows:
        return
    engine = create_store_engine(url)
    names = list(rows[0])
    sqlite = engine.dialect.name == "sqlite"
    marks = ", ".join("?" if sqlite else f"%({name})s" for name in names)
    statement = f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"
    if sqlite:
        params: list[Any] = [
            tuple(str(v) if isinstance(v, Decimal) else v for v in (row[n] for n in names)) for row in rows
        ]
    else:
        params = rows
    with engine.begin() as conn:
        conn.exec_driver_sql(statement, params)
    engine.dispose()


def read(url: str, table: str, where: str = "") -> list[dict[str, Any]]:
    """Rows as the driver returns them (no SQLAlchemy type processing)."""
    engine = create_store_engine(url)
    with engine.connect() as conn:
        order = "prestamo_id, numero_cuota" if table == "cuotas" else "id"
        rows = [
            dict(r._mapping) for r in conn.exec_driver_sql(f"SELECT * FROM {table} {where} ORDER BY {order}")
        ]
    engine.dispose()
    return rows


def as_date(value: Any) -> dt.date:
    """A stored date, independently of the code under test: aware → Bogotá's date, naive or text → its own."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value) if len(value) > 10 else dt.date.fromisoformat(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(BOGOTA).date() if value.tzinfo else value.date()
    assert isinstance(value, dt.date), value
    return value


def as_money(value: Any) -> Decimal:
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )


def due_value(day: dt.date, shape: str) -> dt.datetime:
    """A due date as the lender's system would write it into a ``shape`` column."""
    midnight = dt.datetime.combine(day, dt.time())
    return midnight.replace(tzinfo=BOGOTA) if shape == "timestamptz" else midnight
