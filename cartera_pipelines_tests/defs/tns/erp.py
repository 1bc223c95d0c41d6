"""A small TNS installation with explicit rows, on SQLite files or on the real Firebird 3 server.

The sandbox (``sandbox/tns.py``) generates realistic data; these tests need to say exactly which company
sits in which file, how its NIT is written and what its lines hold (DOUBLE PRECISION columns, a long
third-party NIT, a document posted mid-read), so they build their own.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from cartera_pipelines.defs.tns import tables
from cartera_pipelines.resources.tns import TnsSource
from cartera_pipelines.sandbox import tns as sandbox_tns
from cartera_pipelines.sandbox.targets import SandboxTargets, TnsTarget


@dataclass(frozen=True)
class Line:
    """One DEKARDEX line and its KARDEX document (one line per document unless ``kardex_id`` repeats)."""

    dekardex_id: int
    kardex_id: int
    code: str = "FV"
    date: dt.date = dt.date(2025, 3, 1)
    quantity: Any = Decimal("1")
    price: Any = Decimal("100")
    total: Any = Decimal("100")
    third_party: int = 1
    matid: int = 1
    posted: bool = True
    voided: bool = False


THIRD_PARTIES = [
    (1, "800197268-4", "Ferretería El Álamo"),
    (2, "NIT 900.123.456-8 SUCURSAL 001", "Distribuidora Andina (sucursal)"),  # 30 characters, as TNS allows
]


def _retyped(table: sa.Table, kind: Any, which: Any) -> sa.Table:
    """The same table with ``kind`` for the columns ``which(column)`` selects."""
    columns = [
        sa.Column(
            c.name,
            kind if which(c) else c.type,
            primary_key=c.primary_key,
            nullable=c.nullable,
            autoincrement=False,
        )
        for c in table.columns
    ]
    return sa.Table(table.name, sa.MetaData(), *columns)


def _double(table: sa.Table) -> sa.Table:
    """The same table with DOUBLE PRECISION where the source schema says NUMERIC."""
    return _retyped(table, sa.DOUBLE_PRECISION(), lambda c: isinstance(c.type, sa.Numeric))


def _timestamps(table: sa.Table) -> sa.Table:
    """KARDEX with TIMESTAMP dates, as some TNS versions hold them."""
    return _retyped(table, sa.TIMESTAMP(), lambda c: isinstance(c.type, sa.Date))


class Erp:
    """ADMIN databases (EMPRESAS) per server and company-year databases, plus the servers file."""

    def __init__(self, target: TnsTarget, root: Path, password: str = "") -> None:
        self.target = target
        self.root = root
        self.password = password
        self.paths: list[str] = []
        self.servers_file = root / "tns_servers.yaml"

    @classmethod
    def sqlite(cls, root: Path, servers: tuple[str, ...] = ("uno", "dos")) -> Erp:
        return cls(TnsTarget(driver="sqlite", directory=str(root / "tns"), servers=servers), root)

    @classmethod
    def firebird(cls, firebird: Any, root: Path, password_env: str) -> Erp:
        tag = uuid.uuid4().hex[:6]
        target = firebird.tns_target(servers=(f"uno_{tag}", f"dos_{tag}"), password_env=password_env)
        return cls(target, root, firebird.password)

    @property
    def servers(self) -> tuple[str, ...]:
        return self.target.servers

    def archivo(self, server: str, name: str) -> str:
        """``name`` as EMPRESAS.ARCHIVO holds it (SQLite: relative to the ADMIN file)."""
        path = sandbox_tns.database_path(self.target, server, name)
        return Path(path).name if self.target.driver == "sqlite" else path

    def company_year(
        self, server: str, name: str, lines: list[Line], *, double: bool = False, at: dt.time | None = None
    ) -> str:
        """``double``: DEKARDEX numbers as DOUBLE PRECISION; ``at``: KARDEX dates as TIMESTAMPs at that
        time of day."""
        writer = sandbox_tns.open_writer(self.target, server, name)
        self.paths.append(sandbox_tns.database_path(self.target, server, name))
        company_tables = [
            _double(t)
            if double and t.name == "DEKARDEX"
            else _timestamps(t)
            if at is not None and t.name == "KARDEX"
            else t
            for t in tables.COMPANY_TABLES
        ]

        def day(value: dt.date) -> dt.date | dt.datetime:
            return value if at is None else dt.datetime.combine(value, at)

        try:
            writer.create(company_tables)
            writer.insert(tables.MATERIAL, [(1, "ART-0001", "Café molido 500 g")])
            writer.insert(tables.BODEGA, [(1, "PPAL", "Bodega principal")])
            writer.insert(tables.TERCEROS, THIRD_PARTIES)
            documents = {
                line.kardex_id: (
                    line.kardex_id,
                    line.code,
                    "FE",
                    str(line.kardex_id),
                    day(line.date),
                    line.third_party,
                    day(line.date) if line.posted else None,
                    day(line.date) if line.voided else None,
                )
                for line in lines
            }
            kardex = next(t for t in company_tables if t.name == "KARDEX")
            writer.insert(kardex, list(documents.values()))
            rows = [
                (ln.dekardex_id, ln.kardex_id, ln.matid, 1, ln.quantity, ln.price, 0, ln.price, ln.total, 0)
                for ln in lines
            ]
            writer.insert(company_tables[-1], rows)
        finally:
            writer.close()
        return self.archivo(server, name)

    def empresas(self, server: str, rows: list[tuple[str, str, str, int, str]]) -> None:
        """(Re)write the server's ADMIN: rows of (CODIGO, NOMBRE, NIT, ANOFIS, ARCHIVO)."""
        writer = sandbox_tns.open_writer(self.target, server, "ADMIN")
        path = sandbox_tns.database_path(self.target, server, "ADMIN")
        if path not in self.paths:
            self.paths.append(path)
        try:
            writer.create(tables.ADMIN_TABLES)
            writer.insert(tables.EMPRESAS, rows)
        finally:
            writer.close()

    def write_servers_file(self) -> Path:
        targets = SandboxTargets(
            home=self.root,
            lending_url="",
            operations_url="",
            warehouse_url="",
            tns_servers_file=self.servers_file,
            tns=self.target,
        )
        return sandbox_tns.write_servers_file(targets)

    def source(self) -> TnsSource:
        return TnsSource(servers_file=str(self.servers_file))

    def connect(self, server: str, archivo: str) -> Any:
        """A writable connection to one of these databases (to change the source while a test runs)."""
        path = sandbox_tns.database_path(self.target, server, "ADMIN")
        if archivo != "ADMIN":
            path = str(Path(path).parent / archivo) if self.target.driver == "sqlite" else archivo
        if self.target.driver == "sqlite":
            import sqlite3

            return sqlite3.connect(path)
        import fdb

        target = self.target
        return fdb.connect(
            dsn=f"{target.host}/{target.port}:{path}",
            user=target.user,
            password=self.password,
            charset="WIN1252",
        )

    def drop(self) -> None:
        if self.target.driver == "firebird":
            sandbox_tns.drop_firebird_databases(self.target, self.paths)
