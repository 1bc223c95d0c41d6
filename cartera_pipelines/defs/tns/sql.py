"""Every query and write of the tns family: the TNS sources' queries (read-only) and our warehouse tables.

Writes run on the caller's connection, inside the caller's transaction (the assets own the transactions).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.tns import tables
from cartera_pipelines.defs.tns.companies import CompanyYear, Discovery, EmpresaRow, location
from cartera_pipelines.defs.tns.movements import COLUMNS, DOCUMENT_TYPES, ExtractPlan
from cartera_pipelines.defs.tns.nit import Nit
from cartera_pipelines.lib.bulk import copy_stream, csv_pieces
from cartera_pipelines.lib.metadata import preview_query
from cartera_pipelines.lib.schema import replace_slice
from cartera_pipelines.resources.tns import TnsServer, TnsSource

# --- the TNS sources (read-only) --------------------------------------------------------------------------


def _text(expr: str) -> str:
    # TNS text columns are often CHAR (blank-padded); empty means "none". Done by the server, not per row here.
    return f"NULLIF(TRIM({expr}), '')"


def movements_query(driver: str, plan: ExtractPlan | None = None) -> tuple[str, list[Any]]:
    """One ordered read of the posted, non-voided lines of a company-year database (``plan``: only those
    of documents dated in its range), and its parameters.

    Ordered by the line's primary key, so the read is deterministic (the old service paged with ROWS
    and no ORDER BY). SQLite returns numbers as text (exact decimals) and dates as ISO text.
    """
    if driver == "sqlite":
        num = "CAST({} AS TEXT)".format
        fecha = "K.FECHA"
        day, param = "substr(K.FECHA, 1, 10)", dt.date.isoformat
    else:
        num = "{}".format
        fecha = "CAST(K.FECHA AS DATE)"  # TNS versions differ: DATE or TIMESTAMP
        day, param = fecha, lambda value: value
    where, params = "", []
    if plan is not None and plan.date_from is not None:
        where += f" AND {day} >= ?"
        params.append(param(plan.date_from))
    if plan is not None and plan.date_to is not None:
        where += f" AND {day} <= ?"
        params.append(param(plan.date_to))
    query = f"""
SELECT D.DEKARDEXID, K.KARDEXID, TRIM(K.CODCOMP), {_text("K.CODPREFIJO")}, {_text("K.NUMERO")}, {fecha},
       {_text("M.CODIGO")}, {_text("M.DESCRIP")}, {_text("B.CODIGO")}, {_text("B.NOMBRE")},
       {_text("T.NIT")}, {_text("T.NOMBRE")},
       {num("D.CANMAT")}, {num("D.PRECIOBASE")}, {num("D.PRECIOIVA")}, {num("D.PRECIONETO")},
       {num("D.DESCUENTO")}, {num("D.PARCVTA")}, D.MATID
FROM DEKARDEX D
JOIN KARDEX K ON K.KARDEXID = D.KARDEXID
LEFT JOIN MATERIAL M ON M.MATID = D.MATID
LEFT JOIN BODEGA B ON B.BODID = D.BODID
LEFT JOIN TERCEROS T ON T.TERID = K.CLIENTE
WHERE K.FECASENTAD IS NOT NULL AND K.FECANULADO IS NULL{where}
ORDER BY D.DEKARDEXID
""".strip()
    return query, params


# The Firebird fast path: the server formats each line. fdb decodes every column in Python (a NUMERIC
# becomes a Decimal, a DATE a date, a VARCHAR a str, one by one), which made a typed read of 19 columns the
# extraction's bottleneck; one text column per line is read about twice as fast (benchmarks/tns_extract.py).

NUMBER_COLUMNS = ("CANMAT", "PRECIOBASE", "PRECIOIVA", "PRECIONETO", "DESCUENTO", "PARCVTA")
"""DEKARDEX's numbers. Where any is FLOAT or DOUBLE PRECISION, lines are read typed (:func:`movements_query`):
Firebird prints a double with 16 digits (-98023.25445 as -98023.25444999999), not the decimal it spells."""

FLOAT_COLUMNS_QUERY = f"""
SELECT TRIM(RF.RDB$FIELD_NAME) FROM RDB$RELATION_FIELDS RF
JOIN RDB$FIELDS F ON F.RDB$FIELD_NAME = RF.RDB$FIELD_SOURCE
WHERE RF.RDB$RELATION_NAME = 'DEKARDEX' AND F.RDB$FIELD_TYPE IN (10, 27)
  AND TRIM(RF.RDB$FIELD_NAME) IN ({", ".join(f"'{name}'" for name in NUMBER_COLUMNS)})
""".strip()
"""The DEKARDEX number columns stored as FLOAT (10) or DOUBLE PRECISION (27)."""

PROBLEM_MARK = "!"
"""First character of a line the server flags instead of formatting (see :func:`movement_lines_query`)."""


def _csv_text(expr: str) -> str:
    # a quoted CSV field (quotes doubled; tabs and newlines stay inside the quotes); empty or NULL → the
    # empty unquoted field, which COPY reads as NULL
    return f"""COALESCE('"' || REPLACE(NULLIF(TRIM({expr}), ''), '"', '""') || '"', '')"""


def _csv_number(expr: str, missing: str = "''") -> str:
    return f"COALESCE(CAST({expr} AS VARCHAR(40)), {missing})"


def movement_lines_query(plan: ExtractPlan | None = None) -> tuple[str, list[Any]]:
    """:func:`movements_query` for Firebird with the server formatting the lines: one text column per line,
    the warehouse columns ``kardex_id`` … ``line_total`` (``COLUMNS[4:-1]``) as one tab-separated CSV
    record, ready for ``COPY`` once the partition's constant columns are put around it.

    A line that cannot be loaded as it is (a document code we do not load, no article, no FECHA, no CANMAT)
    comes instead as ``!`` + DEKARDEXID, KARDEXID, MATID, three 0/1 flags (article, FECHA, CANMAT present)
    and the code, tab-separated: :func:`movements.problem_row` turns it back into a source row, and the one
    converter counts or reports it. Only for NUMERIC/DECIMAL numbers (see :data:`NUMBER_COLUMNS`).
    """
    typed, params = movements_query("firebird", plan)
    tail = typed[typed.index("FROM DEKARDEX") :]
    document = (
        "CASE TRIM(K.CODCOMP) "
        + " ".join(f"WHEN '{code}' THEN '{name}\t{code}'" for code, name in DOCUMENT_TYPES.items())
        + " END"
    )
    article = "NULLIF(TRIM(M.CODIGO), '')"
    fields = [
        "K.KARDEXID",
        "D.DEKARDEXID",
        document,
        _csv_text("K.CODPREFIJO"),
        _csv_text("K.NUMERO"),
        "CAST(CAST(K.FECHA AS DATE) AS VARCHAR(10))",
        _csv_text("M.CODIGO"),
        _csv_text("M.DESCRIP"),
        _csv_text("B.CODIGO"),
        _csv_text("B.NOMBRE"),
        _csv_text("T.NIT"),
        _csv_text("T.NOMBRE"),
        *(_csv_number(f"D.{name}") for name in NUMBER_COLUMNS[:-1]),
        _csv_number("D.PARCVTA", "'0'"),
    ]
    line = " || '\t' || ".join(fields)
    flag = "IIF({} IS NULL, '0', '1')".format
    problem = (
        f"'{PROBLEM_MARK}' || D.DEKARDEXID || '\t' || K.KARDEXID || '\t' || COALESCE(D.MATID, '') || '\t' || "
        f"{flag(article)} || {flag('K.FECHA')} || {flag('D.CANMAT')} || '\t' || COALESCE(TRIM(K.CODCOMP), '')"
    )
    bad = f"{document} IS NULL OR {article} IS NULL OR K.FECHA IS NULL OR D.CANMAT IS NULL"
    return f"SELECT CASE WHEN {bad} THEN {problem} ELSE {line} END\n{tail}", params


class ServerUnreachable(RuntimeError):
    """A TNS server that discovery needs cannot be reached (the message names it)."""


def read_empresas(tns: TnsSource, server: TnsServer) -> list[EmpresaRow]:
    """The server's ``EMPRESAS`` rows with a NIT."""
    return [EmpresaRow(server.name, *row) for row in tns.empresas(server)]


def read_every_server(tns: TnsSource, servers: Sequence[TnsServer]) -> list[tuple[str, list[EmpresaRow]]]:
    """``EMPRESAS`` of every server, in the servers file's order. An unreachable server is an error
    naming it: a partial discovery would silently drop its companies."""
    found = []
    for server in servers:
        if not tns.reachable(server):
            raise ServerUnreachable(
                f"TNS server {server.describe()} is not reachable; discovery needs every server"
            )
        found.append((server.name, read_empresas(tns, server)))
    return found


def read_reachable_servers(
    tns: TnsSource, servers: Sequence[TnsServer]
) -> tuple[list[tuple[str, list[EmpresaRow]]], list[str]]:
    """``EMPRESAS`` of every server that answers, in the servers file's order, and the names of those
    that do not."""
    found, unreachable = [], []
    for server in servers:
        if tns.reachable(server):
            found.append((server.name, read_empresas(tns, server)))
        else:
            unreachable.append(server.name)
    return found, unreachable


# --- warehouse/tns_companies ------------------------------------------------------------------------------


def _company_row(company: CompanyYear, at: dt.datetime) -> dict[str, object]:
    return {
        "company_year": company.key,
        "nit": company.nit.number,
        "check_digit": company.nit.check_digit,
        "source_check_digit": company.nit.source_check_digit,
        "nit_status": company.nit.status,
        "nit_raw": company.nit_raw,
        "fiscal_year": company.fiscal_year,
        "company_code": company.company_code,
        "company_name": company.company_name,
        "server": company.server,
        "archivo": company.archivo,
        "discovered_at": at,
    }


def replace_companies(conn: sa.Connection, found: Discovery, at: dt.datetime) -> None:
    """``tns_companies`` and ``tns_company_duplicates`` become what this discovery found."""
    replace_slice(conn, tables.tns_companies, sa.true(), [_company_row(c, at) for c in found.companies])
    duplicates = [
        {
            "company_year": d.ignored.key,
            "server": d.ignored.server,
            "archivo": d.ignored.archivo,
            "company_code": d.ignored.company_code,
            "company_name": d.ignored.company_name,
            "kept_server": d.kept.server,
            "discovered_at": at,
        }
        for d in found.duplicates
    ]
    replace_slice(conn, tables.tns_company_duplicates, sa.true(), duplicates)


def companies_preview(conn: sa.Connection) -> dg.MarkdownMetadataValue:
    companies = tables.tns_companies
    query = sa.select(
        companies.c.company_year,
        companies.c.company_name,
        companies.c.nit_status,
        companies.c.server,
        companies.c.archivo,
    ).order_by(companies.c.company_year)
    return preview_query(conn, query, limit=20)


def _company(row: Any) -> CompanyYear:
    return CompanyYear(
        server=row["server"],
        company_code=row["company_code"],
        company_name=row["company_name"],
        nit=Nit(row["nit"], row["check_digit"], row["source_check_digit"]),
        nit_raw=row["nit_raw"],
        fiscal_year=row["fiscal_year"],
        archivo=row["archivo"],
    )


def find_company_year(conn: sa.Connection, key: str) -> CompanyYear | None:
    """The company-year as the last discovery stored it, or None (also when discovery never ran)."""
    companies = tables.tns_companies
    if not sa.inspect(conn).has_table(companies.name):
        return None
    row = conn.execute(sa.select(companies).where(companies.c.company_year == key)).mappings().first()
    return None if row is None else _company(row)


def stored_companies(conn: sa.Connection) -> list[CompanyYear]:
    """Every company-year of the last discovery."""
    companies = tables.tns_companies
    return [_company(row) for row in conn.execute(sa.select(companies)).mappings()]


def stored_locations(conn: sa.Connection) -> dict[str, str]:
    """``company_year → "<server>:<ARCHIVO>"`` as the last discovery stored them ({} before any)."""
    companies = tables.tns_companies
    if not sa.inspect(conn).has_table(companies.name):
        return {}
    rows = conn.execute(sa.select(companies.c.company_year, companies.c.server, companies.c.archivo))
    return {key: location(server, archivo) for key, server, archivo in rows}


def latest_company_years(conn: sa.Connection) -> list[tuple[str, str]] | None:
    """``(company_year, server)`` of each NIT's latest fiscal year; None when discovery never ran."""
    companies = tables.tns_companies
    if not sa.inspect(conn).has_table(companies.name):
        return None
    latest = (
        sa.select(companies.c.nit, sa.func.max(companies.c.fiscal_year).label("year"))
        .group_by(companies.c.nit)
        .subquery()
    )
    rows = conn.execute(
        sa.select(companies.c.company_year, companies.c.server)
        .join(latest, sa.and_(latest.c.nit == companies.c.nit, latest.c.year == companies.c.fiscal_year))
        .order_by(companies.c.company_year)
    ).all()
    return [(key, server) for key, server in rows]


def count_companies(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(tables.tns_companies)).scalar_one())


def duplicate_offenders() -> sa.Select[Any]:
    duplicates = tables.tns_company_duplicates
    return sa.select(
        duplicates.c.company_year, duplicates.c.server, duplicates.c.archivo, duplicates.c.kept_server
    )


def invalid_check_digit_offenders(status: str) -> sa.Select[Any]:
    companies = tables.tns_companies
    return sa.select(
        companies.c.company_year,
        companies.c.company_name,
        companies.c.nit_raw,
        companies.c.check_digit.label("expected_check_digit"),
    ).where(companies.c.nit_status == status)


# --- warehouse/tns_inventory_movements --------------------------------------------------------------------


def _in_slice(table: sa.Table, key: str, plan: ExtractPlan) -> sa.ColumnElement[bool]:
    condition = table.c.company_year == key
    if plan.date_from is not None:
        condition = sa.and_(condition, table.c.movement_date >= plan.date_from)
    if plan.date_to is not None:
        condition = sa.and_(condition, table.c.movement_date <= plan.date_to)
    return condition


def count_movements(conn: sa.Connection, key: str, plan: ExtractPlan) -> int:
    """Lines the partition's slice (``plan``: its part in the date range) holds."""
    movements = tables.tns_inventory_movements
    query = sa.select(sa.func.count()).select_from(movements).where(_in_slice(movements, key, plan))
    return int(conn.execute(query).scalar_one())


def _stage(conn: sa.Connection) -> sa.Table:
    """A temporary table shaped like the movements (no key), for a date-range extraction."""
    columns = [sa.Column(c.name, c.type) for c in tables.tns_inventory_movements.columns]
    stage = sa.Table("tns_movements_stage", sa.MetaData(), *columns, prefixes=["TEMPORARY"])
    stage.drop(conn, checkfirst=True)
    stage.create(conn)
    return stage


@contextmanager
def slice_writer(conn: sa.Connection, key: str, plan: ExtractPlan) -> Iterator[tuple[sa.Table, int]]:
    """Where to insert the lines read, and how many the slice holds now; the slice is replaced when the
    body ends (all inside the caller's transaction).

    Whole partition: the slice is deleted first and the lines go straight into the table. Date range:
    the lines go to a temporary table, then the slice loses its lines in the range *and* any line read
    again (a document re-dated into the range), and gets the staged lines.
    """
    movements = tables.tns_inventory_movements
    if not plan.dated:
        held = max(conn.execute(movements.delete().where(movements.c.company_year == key)).rowcount, 0)
        yield movements, held
        return
    held = count_movements(conn, key, plan)
    stage = _stage(conn)
    yield stage, held
    read_again = movements.c.dekardex_id.in_(sa.select(stage.c.dekardex_id))
    conn.execute(
        movements.delete().where(
            sa.or_(_in_slice(movements, key, plan), sa.and_(movements.c.company_year == key, read_again))
        )
    )
    conn.execute(
        movements.insert().from_select(list(COLUMNS), sa.select(*(stage.c[name] for name in COLUMNS)))
    )
    stage.drop(conn)


def insert_movements(
    conn: sa.Connection, batches: Iterable[str | Sequence[tuple[Any, ...]]], table: sa.Table
) -> None:
    """Insert lines into ``table``, batch by batch as they come: a batch is CSV text the Firebird server
    formatted (PostgreSQL only; ``COLUMNS`` order, tab-separated, the empty field is NULL) or converted
    lines (``COLUMNS`` order).

    PostgreSQL: one ``COPY`` stream for the whole slice, text as it is and each batch of lines CSV-encoded
    in C (``None`` is the empty field; the source query already turns empty text into NULL). Elsewhere:
    one multi-row insert per batch.
    """
    if conn.dialect.name == "postgresql":
        pieces = (
            piece
            for rows in batches
            for piece in ((rows,) if isinstance(rows, str) else csv_pieces(rows, rows_per_piece=len(rows)))
        )
        copy_stream(conn, table.name, COLUMNS, pieces, null="")
        return
    for rows in batches:
        assert not isinstance(rows, str), "CSV text is for PostgreSQL's COPY only"
        conn.execute(table.insert(), [dict(zip(COLUMNS, row)) for row in rows])


def movement_totals(conn: sa.Connection, key: str) -> list[tuple[str, int, Any, Any]]:
    """``(document_type, lines, quantity, line_total)`` of the partition's slice, per document type."""
    movements = tables.tns_inventory_movements
    rows = conn.execute(
        sa.select(
            movements.c.document_type,
            sa.func.count(),
            sa.func.sum(movements.c.quantity),
            sa.func.sum(movements.c.line_total),
        )
        .where(movements.c.company_year == key)
        .group_by(movements.c.document_type)
        .order_by(movements.c.document_type)
    ).all()
    return [(document_type, int(n), quantity, total) for document_type, n, quantity, total in rows]


def movements_preview(conn: sa.Connection, key: str) -> dg.MarkdownMetadataValue:
    movements = tables.tns_inventory_movements
    query = (
        sa.select(
            movements.c.dekardex_id,
            movements.c.document_type,
            movements.c.prefix,
            movements.c.number,
            movements.c.movement_date,
            movements.c.article_code,
            movements.c.article_name,
            movements.c.quantity,
            movements.c.line_total,
        )
        .where(movements.c.company_year == key)
        .order_by(movements.c.dekardex_id)
    )
    return preview_query(conn, query)


# --- warehouse/api_key_companies --------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyLinks:
    expired_now: int
    links: int
    active_keys: int
    keys_without_companies: list[dict[str, Any]]
    preview: dg.MarkdownMetadataValue


def refresh_key_links(conn: sa.Connection, now: dt.datetime) -> KeyLinks:
    """Deactivate expired keys, then link each active key to every company-year of its NIT."""
    keys, links, companies = tables.api_keys, tables.api_key_companies, tables.tns_companies
    expired = conn.execute(
        keys.update()
        .where(keys.c.active.is_(True), keys.c.expires_at <= now)
        .values(active=False, revoked_at=sa.func.coalesce(keys.c.revoked_at, now))
    ).rowcount
    conn.execute(links.delete())
    conn.execute(
        links.insert().from_select(
            ["api_key_id", "key_prefix", "nit", "company_year", "fiscal_year", "linked_at"],
            sa.select(
                keys.c.id,
                keys.c.prefix,
                keys.c.nit,
                companies.c.company_year,
                companies.c.fiscal_year,
                sa.literal(now, sa.DateTime(timezone=True)),
            )
            .join(companies, companies.c.nit == keys.c.nit)
            .where(keys.c.active.is_(True)),
        )
    )
    without = conn.execute(
        sa.select(keys.c.prefix, keys.c.nit, keys.c.client_name).where(
            keys.c.active.is_(True), ~sa.exists().where(companies.c.nit == keys.c.nit)
        )
    ).mappings()
    preview = sa.select(links.c.key_prefix, links.c.nit, links.c.company_year).order_by(
        links.c.key_prefix, links.c.company_year
    )
    return KeyLinks(
        expired_now=max(expired, 0),
        links=int(conn.execute(sa.select(sa.func.count()).select_from(links)).scalar_one()),
        active_keys=int(conn.execute(sa.select(sa.func.count()).where(keys.c.active.is_(True))).scalar_one()),
        keys_without_companies=[dict(row) for row in without],
        preview=preview_query(conn, preview),
    )


def inactive_key_offenders(now: dt.datetime) -> sa.Select[Any]:
    """Keys that are active though expired, or inactive (expired, revoked) yet still linked."""
    keys, links = tables.api_keys, tables.api_key_companies
    linked = sa.exists().where(links.c.api_key_id == keys.c.id)
    expired_active = sa.and_(keys.c.active.is_(True), keys.c.expires_at <= now)
    return sa.select(keys.c.prefix, keys.c.nit, keys.c.client_name, keys.c.expires_at, keys.c.active).where(
        sa.or_(expired_active, sa.and_(keys.c.active.is_(False), linked))
    )
