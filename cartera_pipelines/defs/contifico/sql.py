"""Every query and write of the contifico family: hash-compared upserts, child lines, deletion marks,
sync state.

Each function runs on the caller's connection, inside the caller's transaction. The upsert compares
the page's content hashes with the stored ones for just those ids (a primary-key lookup), then
writes only new or changed rows with ``INSERT … ON CONFLICT`` (PostgreSQL through a ``COPY`` into a
session-temporary staging table, or straight into the table when none of the page's ids is stored;
SQLite/MySQL with a multi-row insert). The child tables' lines of every written record are replaced
in the same transaction: the changed parents' lines deleted, the new lines inserted (PostgreSQL:
typed in SQL from the JSONB just stored).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from operator import itemgetter
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from cartera_pipelines.defs.contifico.catalog import CHILDREN, ChildTable
from cartera_pipelines.defs.contifico.parsing import ParsedRecord, Reject
from cartera_pipelines.lib.bulk import NULL, column_encoder, copy_stream, copy_text, csv_pieces, text_encoder

_LOOKUP_BATCH = 5_000


@dataclass
class PageWrite:
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    lines: int = 0


def stored_hashes(conn: sa.Connection, table: sa.Table, ids: Sequence[str]) -> dict[str, tuple[str, bool]]:
    """id → (content hash, is deleted) for the given ids that are stored."""
    found: dict[str, tuple[str, bool]] = {}
    iterator = iter(ids)
    postgres = conn.dialect.name == "postgresql"
    while chunk := list(islice(iterator, _LOOKUP_BATCH)):
        # PostgreSQL: one array parameter (psycopg2 adapts the list in C) rather than an IN of
        # thousands of bind parameters SQLAlchemy renders one by one.
        match = (
            table.c.id == sa.any_(sa.bindparam("ids", chunk, type_=ARRAY(sa.String)))
            if postgres
            else table.c.id.in_(chunk)
        )
        query = sa.select(table.c.id, table.c.content_hash, table.c.deleted_at.is_not(None)).where(match)
        for record_id, digest, deleted in conn.execute(query):
            found[record_id] = (digest, bool(deleted))
    return found


def _update_columns(table: sa.Table, keep: Sequence[str] = ("first_seen_at",)) -> list[str]:
    return [c.name for c in table.columns if not c.primary_key and c.name not in keep]


def _upsert_generic(
    conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], keep: Sequence[str] = ("first_seen_at",)
) -> None:
    """``INSERT … ON CONFLICT (primary key) DO UPDATE`` of every column but the key and ``keep``."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        statement = mysql_insert(table)
        conn.execute(
            statement.on_duplicate_key_update(
                {c: statement.inserted[c] for c in _update_columns(table, keep)}
            ),
            rows,
        )
        return
    statement = insert(table)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={c: statement.excluded[c] for c in _update_columns(table, keep)},
        ),
        rows,
    )


_PAGE_COLUMNS = ("raw", "first_seen_at", "fetched_at", "deleted_at")
"""Filled per page, not from the typed row: the canonical JSON, the page's stamp (twice), NULL."""


@functools.cache
def _copy_plan(table: sa.Table) -> tuple[list[str], list[Any]]:
    """The typed row's columns (in table order) and their COPY text encoders, once per table."""
    names = [c.name for c in table.columns if c.name not in _PAGE_COLUMNS]
    return names, [text_encoder(table.c[name]) for name in names]


def _json_field(text: str) -> str:
    """Canonical JSON as a COPY text field: it has no raw tab, newline or CR, only backslashes."""
    return text.replace("\\", "\\\\") if "\\" in text else text


def _copy_text(table: sa.Table, rows: Sequence[Mapping[str, Any]], now: dt.datetime) -> tuple[list[str], str]:
    """The page's rows as COPY text: typed columns, ``raw`` (the canonical JSON already computed for the
    hash, no second encoding), ``first_seen_at`` and ``fetched_at`` (one stamp per page)."""
    names, encoders = _copy_plan(table)
    values = itemgetter(*names)
    stamp = now.isoformat()
    tail = f"\t{stamp}\t{stamp}\n"
    tabs = len(names) - 1
    lines = []
    for row in rows:
        row_values = values(row)
        # Strings as they are, None as \N, the rest through its column's encoder; then one look at the
        # whole line: a tab, backslash (beyond the NULL markers), newline or CR in a value sends the row
        # through the escaping encoders.
        line = "\t".join(
            [
                v if v.__class__ is str else NULL if v is None else encode(v)
                for encode, v in zip(encoders, row_values)
            ]
        )
        if (
            line.count("\t") != tabs
            or line.count("\\") != row_values.count(None)
            or "\n" in line
            or "\r" in line
        ):
            line = "\t".join([encode(v) for encode, v in zip(encoders, row_values)])
        lines.append(line + "\t" + _json_field(row["raw_json"]) + tail)
    text = "".join(lines)
    return [*names, "raw", "first_seen_at", "fetched_at"], text


def _upsert_postgres(
    conn: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    now: dt.datetime,
    *,
    all_new: bool,
) -> None:
    """``COPY`` the rows into a session-temporary twin of ``table``, then one ``INSERT … SELECT …
    ON CONFLICT (id) DO UPDATE``: the fastest idempotent bulk upsert PostgreSQL offers.

    When none of the ids was stored (``all_new``: a first sync), the rows are copied straight into the
    table under a savepoint; should another sync have stored one of them since the lookup, the
    savepoint is rolled back and the rows go through the upsert after all.
    """
    from sqlalchemy.dialects.postgresql import insert

    columns, text = _copy_text(table, rows, now)
    if all_new:
        try:
            with conn.begin_nested():
                copy_text(conn, table.name, columns, text)
            return
        except conn.dialect.dbapi.IntegrityError:  # type: ignore[union-attr]
            pass
    stage_name = f"stage_{table.name}"
    # Identifiers come from our own catalog, never from input.
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage_name} (LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    conn.exec_driver_sql(f"TRUNCATE {stage_name}")
    copy_text(conn, stage_name, columns, text)
    names = [c.name for c in table.columns]
    stage = sa.Table(stage_name, sa.MetaData(), *(sa.Column(c.name, c.type) for c in table.columns))
    statement = insert(table).from_select(names, sa.select(*(stage.c[c] for c in names)))
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.id], set_={c: statement.excluded[c] for c in _update_columns(table)}
        )
    )


# One encoder for every line: json.dumps with options builds a new encoder per call.
_json_text = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str).encode


def replace_lines(
    conn: sa.Connection, table: sa.Table, replaced: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """Delete the lines of the ``replaced`` parents, then insert ``rows`` (the caller's transaction)."""
    iterator = iter(replaced)
    while chunk := list(islice(iterator, _LOOKUP_BATCH)):
        conn.execute(table.delete().where(table.c.parent_id.in_(chunk)))
    if not rows:
        return
    columns = [c.name for c in table.columns]
    if conn.dialect.name == "postgresql" and len(rows) > 50:
        # ``raw`` is always JSON text (a line may be a bare string, which the generic encoder would not quote).
        encoders = [(c.name, _json_text if c.name == "raw" else column_encoder(c)) for c in table.columns]
        pieces = csv_pieces([enc(row[name]) for name, enc in encoders] for row in rows)
        copy_stream(conn, table.name, columns, pieces)
    else:
        conn.execute(sa.insert(table), [{c: row.get(c) for c in columns} for row in rows])


def _amount(path: str) -> str:
    """The SQL twin of ``parsing.parse_decimal`` for a value the parser already accepted."""
    return f"NULLIF(btrim(e->>'{path}'), '')::numeric"


# The SQL twins of ``parsing.line_row`` (PostgreSQL), run only on lines ``line_row`` accepted: the values
# are the same (tested on both engines by the rows-identical tests); the parser stays the validator.
_LINE_SELECT = {
    "document": (
        "product_id, quantity, price, discount, tax",
        f"e->>'producto_id', {_amount('cantidad')}, {_amount('precio')}, "
        f"CASE WHEN e->>'porcentaje_descuento' IS NOT NULL THEN {_amount('porcentaje_descuento')} "
        f"ELSE {_amount('descuento')} END, {_amount('porcentaje_iva')}",
    ),
    "movement": (
        "product_id, quantity, price",
        f"e->>'producto_id', {_amount('cantidad')}, {_amount('precio')}",
    ),
    "journal": (
        "account_id, cost_center_id, debit, credit",
        "e->>'cuenta_id', e->>'centro_costo_id', "
        f"CASE WHEN upper(btrim(e->>'tipo')) = 'D' THEN {_amount('valor')} ELSE 0 END, "
        f"CASE WHEN upper(btrim(e->>'tipo')) = 'H' THEN {_amount('valor')} ELSE 0 END",
    ),
}


def _extract_lines(
    conn: sa.Connection,
    child: sa.Table,
    parent: sa.Table,
    spec: ChildTable,
    replaced: Sequence[str],
    ids: Sequence[str],
) -> None:
    """Replace the lines of ``ids`` with the items of their stored ``raw`` array (PostgreSQL)."""
    if replaced:
        conn.execute(child.delete().where(child.c.parent_id.in_(list(replaced))))
    columns, values = _LINE_SELECT[spec.kind]
    # Identifiers come from our own catalog, never from input.
    conn.execute(
        sa.text(
            f"INSERT INTO {child.name} (parent_id, line_number, {columns}, raw) "
            f"SELECT p.id, l.n, {values}, l.e FROM {parent.name} p "
            f"CROSS JOIN LATERAL jsonb_array_elements(p.raw->'{spec.array}') WITH ORDINALITY AS l(e, n) "
            f"WHERE p.id = ANY(:ids) AND jsonb_typeof(p.raw->'{spec.array}') = 'array'"
        ),
        {"ids": list(ids)},
    )


def upsert_page(
    conn: sa.Connection,
    table: sa.Table,
    parsed: Sequence[ParsedRecord],
    now: dt.datetime,
    child_tables: Mapping[str, sa.Table] | None = None,
) -> PageWrite:
    """Write the new and changed records of one page, and their child tables' lines; returns the counts.

    ``parsed`` comes from ``parsing.parse_page`` (typed columns, ``content_hash``, ``raw_json``, lines).
    """
    result = PageWrite()
    if not parsed:
        return result
    stored = stored_hashes(conn, table, [item.row["id"] for item in parsed])
    writes: list[dict[str, Any]] = []  # the typed rows to write
    raws: list[Mapping[str, Any]] = []
    replaced: list[str] = []  # parents stored before: their old lines go
    lines: dict[str, list[dict[str, Any]]] = {name: [] for name in child_tables or {}}
    for row, raw, children in parsed:
        previous = stored.get(row["id"])
        if previous is None:
            result.new += 1
        elif previous[0] != row["content_hash"] or previous[1]:
            result.changed += 1  # a different version, or a record that came back after a deletion
            replaced.append(row["id"])
        else:
            result.unchanged += 1
            continue
        writes.append(row)
        raws.append(raw)
        for name, rows in children.items():
            lines[name] += rows
    if writes:
        if conn.dialect.name == "postgresql" and len(writes) > 50:
            _upsert_postgres(conn, table, writes, now, all_new=not stored)
        else:
            columns = [c.name for c in table.columns]
            page = {"first_seen_at": now, "fetched_at": now, "deleted_at": None}
            merged = [row | page | {"raw": raw} for row, raw in zip(writes, raws)]
            _upsert_generic(conn, table, [{c: w.get(c) for c in columns} for w in merged])
        for name, rows in lines.items():
            if conn.dialect.name == "postgresql" and len(rows) > 50 and CHILDREN[name].kind in _LINE_SELECT:
                # PostgreSQL types the lines from the JSONB it just stored, in C: no second encoding.
                ids = [w["id"] for w in writes]
                _extract_lines(conn, child_tables[name], table, CHILDREN[name], replaced, ids)  # type: ignore[index]
            else:
                replace_lines(conn, child_tables[name], replaced, rows)  # type: ignore[index]
        result.lines = sum(len(rows) for rows in lines.values())
    return result


def active_ids_missing(
    conn: sa.Connection, table: sa.Table, seen: set[str], scan_started_at: dt.datetime
) -> list[str]:
    """Ids stored as live (not deleted) that a full scan did not return; streamed, ids only.

    Rows written after the scan started (by a sync running at the same time) are not the scan's to judge.
    """
    query = sa.select(table.c.id).where(table.c.deleted_at.is_(None), table.c.fetched_at < scan_started_at)
    result = conn.execute(query, execution_options={"yield_per": 10_000})
    return [record_id for (record_id,) in result if record_id not in seen]


def count_active(conn: sa.Connection, table: sa.Table) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.deleted_at.is_(None))
        ).scalar_one()
    )


def mark_deleted(conn: sa.Connection, table: sa.Table, ids: Iterable[str], now: dt.datetime) -> int:
    total = 0
    iterator = iter(ids)
    while chunk := list(islice(iterator, _LOOKUP_BATCH)):
        result = conn.execute(
            sa.update(table).where(table.c.id.in_(chunk), table.c.deleted_at.is_(None)).values(deleted_at=now)
        )
        total += result.rowcount
    return total


def save_state(conn: sa.Connection, state: sa.Table, values: Mapping[str, Any]) -> None:
    """Insert or update one resource's row of ``contifico_sync_state``."""
    values = {k: (Decimal(str(round(v, 3))) if isinstance(v, float) else v) for k, v in values.items()}
    updated = conn.execute(sa.update(state).where(state.c.resource == values["resource"]).values(**values))
    if updated.rowcount == 0:
        conn.execute(sa.insert(state).values(**values))


def load_state(conn: sa.Connection, state: sa.Table, resource: str) -> dict[str, Any] | None:
    row = conn.execute(sa.select(state).where(state.c.resource == resource)).mappings().first()
    return dict(row) if row else None


# --- rejects and schema drift ------------------------------------------------------------------------


def _as_json(value: Any, limit: int | None = None) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if limit is None or len(text) <= limit else text[:limit] + "…"


def open_reject_ids(conn: sa.Connection, rejects: sa.Table, resource: str) -> set[str]:
    query = sa.select(rejects.c.id).where(rejects.c.resource == resource)
    return {record_id for (record_id,) in conn.execute(query)}


def save_rejects(
    conn: sa.Connection, rejects: sa.Table, resource: str, found: Sequence[Reject], now: dt.datetime
) -> None:
    """Record (or refresh) the records that could not be typed; ``first_seen_at`` stays."""
    rows = [
        {
            "resource": resource,
            "id": reject.id,
            "field": reject.field,
            "value": _as_json(reject.value, 2000),
            "reason": reject.reason,
            "raw": reject.raw,
            "first_seen_at": now,
            "last_seen_at": now,
        }
        for reject in found
    ]
    _upsert_generic(conn, rejects, rows)


def clear_rejects(conn: sa.Connection, rejects: sa.Table, resource: str, ids: Iterable[str]) -> int:
    """Records that were rejected and now parse leave the table."""
    statement = rejects.delete().where(rejects.c.resource == resource, rejects.c.id.in_(list(ids)))
    return max(conn.execute(statement).rowcount, 0)


def record_drift(
    conn: sa.Connection, drift: sa.Table, resource: str, fields: Mapping[str, Any], now: dt.datetime
) -> None:
    """Fields the catalog does not know: first seen, last seen and an example (the first one stays)."""
    rows = [
        {
            "resource": resource,
            "field": name[:200],
            "first_seen_at": now,
            "last_seen_at": now,
            "example": _as_json(example, 500),
        }
        for name, example in fields.items()
    ]
    _upsert_generic(conn, drift, rows, keep=("first_seen_at", "example"))


def drift_fields(conn: sa.Connection, drift: sa.Table, resource: str) -> list[dict[str, Any]]:
    query = (
        sa.select(drift.c.field, drift.c.first_seen_at, drift.c.example)
        .where(drift.c.resource == resource)
        .order_by(drift.c.field)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


# --- reads for metadata and checks -------------------------------------------------------------------


def preview_columns(table: sa.Table) -> list[sa.Column[Any]]:
    skip = ("raw", "content_hash", "first_seen_at", "deleted_at")
    return [c for c in table.columns if c.name not in skip][:8]


def recent_rows(table: sa.Table) -> sa.Select[Any]:
    """The most recently fetched rows, for the asset's preview."""
    order = [table.c.fetched_at.desc(), table.c.id] if "fetched_at" in table.c else list(table.primary_key)
    return sa.select(*preview_columns(table)).order_by(*order)


def state_rows(conn: sa.Connection, state: sa.Table) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(sa.select(state).order_by(state.c.resource)).mappings()]


def open_rejects(rejects: sa.Table, resource: str | None = None) -> sa.Select[Any]:
    """Records still rejected (offenders of the WARN check), newest first within each resource."""
    query = sa.select(
        rejects.c.resource,
        rejects.c.id,
        rejects.c.field,
        rejects.c.value,
        rejects.c.reason,
        rejects.c.last_seen_at,
    )
    return query.where(rejects.c.resource == resource) if resource else query


def bad_hashes(table: sa.Table) -> sa.Select[Any]:
    return sa.select(table.c.id, table.c.content_hash).where(sa.func.length(table.c.content_hash) != 64)


def last_sync(conn: sa.Connection, state: sa.Table, resource: str) -> sa.Row[Any] | None:
    query = sa.select(state.c.mode, state.c.fetched, state.c.rejected, state.c.last_status)
    return conn.execute(query.where(state.c.resource == resource)).first()
