"""Nested arrays as child tables: typed, keyed by (parent id, line number), replaced with their parent."""

from __future__ import annotations

import json
from decimal import Decimal

import sqlalchemy as sa

from cartera_pipelines.defs.contifico.catalog import RESOURCES
from cartera_pipelines.defs.contifico.parsing import line_rows, parse_record
from cartera_pipelines.defs.contifico.sync import SyncOptions, ensure_tables, sync_resource
from cartera_pipelines.defs.contifico.tables import CHILD_TABLES
from cartera_pipelines.resources.contifico import ContificoApi
from cartera_pipelines.resources.database import SqlDatabase
from cartera_pipelines.sandbox.contifico_simulator import SimulatorServer

# A sale as the real API writes it: amounts as strings, a line with a discount, another with a number.
SALE = {
    "id": "Xk3pQ9rT2mWv8LbN",
    "tipo_registro": "CLI",
    "tipo_documento": "FAC",
    "documento": "001-001-000000123",
    "fecha_emision": "18/02/2026",
    "fecha_modificacion": "18/02/2026 11:12:08",
    "persona": {"id": "Pp4Lm2Nq8Rs6Tu0V", "tipo": "J", "ruc": "0992345678001"},
    "subtotal": "120.00",
    "iva": "18.00",
    "total": "138.00",
    "estado": "P",
    "saldo": "138.00",
    "detalles": [
        {
            "producto_id": "Qa1Ws2Ed3Rf4Tg5Y",
            "cantidad": "2.000000",
            "precio": "50.00",
            "porcentaje_descuento": "10.00",
            "porcentaje_iva": "15.00",
        },
        {"producto_id": "Hy6Uj7Ik8Ol9Pz0X", "cantidad": 1, "precio": "30.00", "porcentaje_iva": 15},
    ],
}


def test_document_lines_are_typed_and_numbered() -> None:
    parsed = parse_record(RESOURCES["sales"], SALE)
    lines = parsed.children["sales_lines"]
    assert [(r["parent_id"], r["line_number"]) for r in lines] == [(SALE["id"], 1), (SALE["id"], 2)]
    assert lines[0]["quantity"] == Decimal("2.000000") and lines[0]["price"] == Decimal("50.00")
    assert lines[0]["discount"] == Decimal("10.00") and lines[0]["tax"] == Decimal("15.00")
    assert lines[1]["discount"] is None and lines[1]["tax"] == Decimal(15)
    assert lines[1]["raw"] == SALE["detalles"][1]


def test_journal_lines_split_debit_and_credit() -> None:
    entry = {
        "id": "As9Df8Gh7Jk6Lz5X",
        "detalles": [
            {"cuenta_id": "Cu1Ab2Cd3Ef4Gh5I", "centro_costo_id": "Cc1", "valor": "250.00", "tipo": "D"},
            {"cuenta_id": "Cu6Jk7Lm8No9Pq0R", "centro_costo_id": None, "valor": "250.00", "tipo": "H"},
        ],
    }
    child = RESOURCES["journal_entries"].children[0]
    debit, credit = line_rows(child, entry["id"], entry)
    assert (debit["debit"], debit["credit"], debit["cost_center_id"]) == (Decimal("250.00"), 0, "Cc1")
    assert (credit["debit"], credit["credit"], credit["account_id"]) == (
        0,
        Decimal("250.00"),
        "Cu6Jk7Lm8No9Pq0R",
    )


def _lines(db: SqlDatabase, name: str) -> dict[tuple[str, int], object]:
    table = CHILD_TABLES[name]
    with db.connect() as conn:
        return {(r.parent_id, r.line_number): r.raw for r in conn.execute(sa.select(table))}


def _expected(server: SimulatorServer, path: str, array: str, **where: str) -> dict[tuple[str, int], object]:
    clause = "".join(f" AND {k} = ?" for k in where)
    rows = server.sim.db().execute(
        f"SELECT body FROM records WHERE coll = ?{clause}", (path, *where.values())
    )
    found = {}
    for record in (json.loads(r[0]) for r in rows):
        for number, item in enumerate(record.get(array) or [], start=1):
            found[(record["id"], number)] = item
    return found


def test_lines_are_synced_and_replaced_with_their_parent(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    ensure_tables(warehouse)
    names = ("sales", "purchases", "documents", "inventory_movements", "journal_entries", "variants")
    for name in names:
        sync_resource(api, warehouse, RESOURCES[name])
    assert _lines(warehouse, "sales_lines") == _expected(
        simulator, "v2/registro/documento/", "detalles", tipo_registro="CLI"
    )
    assert _lines(warehouse, "journal_entry_lines") == _expected(
        simulator, "v2/contabilidad/asiento/", "detalles"
    )
    assert _lines(warehouse, "variant_values") == _expected(simulator, "v1/variante/", "valores")
    with warehouse.connect() as conn:
        table = CHILD_TABLES["journal_entry_lines"]
        debit, credit = conn.execute(sa.select(sa.func.sum(table.c.debit), sa.func.sum(table.c.credit))).one()
        assert debit == credit > 0
    # A changed sale with one line fewer: its lines are replaced, nothing of the old version stays.
    sale_id = simulator.sim.ids("v2/registro/documento/", tipo_registro="CLI")[0]
    conn = simulator.sim.db()
    body = json.loads(conn.execute("SELECT body FROM records WHERE id = ?", (sale_id,)).fetchone()[0])
    body["detalles"] = body["detalles"][:1] + [{"producto_id": None, "cantidad": "3", "precio": "1.50"}]
    body["fecha_modificacion"] = "01/01/2030"
    conn.execute(
        "UPDATE records SET body = ?, modified = '2030-01-01' WHERE id = ?", (json.dumps(body), sale_id)
    )
    conn.commit()
    stats = sync_resource(api, warehouse, RESOURCES["sales"], SyncOptions(full_refresh=True))
    assert stats.changed == 1
    assert _lines(warehouse, "sales_lines") == _expected(
        simulator, "v2/registro/documento/", "detalles", tipo_registro="CLI"
    )


def test_selecting_only_the_documents_still_writes_their_lines(
    simulator: SimulatorServer, api: ContificoApi, warehouse: SqlDatabase
) -> None:
    import dagster as dg

    from cartera_pipelines.defs.contifico import assets

    result = dg.materialize(
        assets.contifico_resource_assets,
        selection=[dg.AssetKey(["warehouse", "contifico_sales"])],
        resources={"contifico": api, "warehouse_db": warehouse},
    )
    assert [e.asset_key.path[-1] for e in result.get_asset_materialization_events()] == ["contifico_sales"]
    assert _lines(warehouse, "sales_lines") == _expected(
        simulator, "v2/registro/documento/", "detalles", tipo_registro="CLI"
    )


def test_postgresql_types_lines_exactly_as_the_parser_does(
    simulator: SimulatorServer, api: ContificoApi, tmp_path, postgres_url: str
) -> None:
    """PostgreSQL types the lines from the stored JSONB (the bulk path); SQLite gets the parser's rows.
    Odd but valid spellings must give the same rows on both."""
    from cartera_pipelines.sandbox.contifico_simulator import Quirks

    conn = simulator.sim.db()
    sale_id = simulator.sim.ids("v2/registro/documento/", tipo_registro="CLI")[2]
    body = json.loads(conn.execute("SELECT body FROM records WHERE id = ?", (sale_id,)).fetchone()[0])
    body["detalles"] = [
        {"producto_id": "Qa1Ws2Ed3Rf4Tg5Y", "cantidad": 2.5, "precio": " 10.00 ", "descuento": "5"},
        {"producto_id": None, "cantidad": "1", "precio": "1", "porcentaje_descuento": None, "descuento": 3},
        {
            "cantidad": "1e2",
            "precio": "2",
            "porcentaje_descuento": "",
            "descuento": "9",
            "porcentaje_iva": 12,
        },
        {"producto_id": 12345, "cantidad": "+1.1234567", "precio": "-0.5", "porcentaje_iva": "15.00"},
    ]
    conn.execute("UPDATE records SET body = ? WHERE id = ?", (json.dumps(body), sale_id))
    conn.commit()
    simulator.sim.quirks = Quirks(number_amounts=True)
    found = []
    for url in (f"sqlite:///{tmp_path / 'lines.db'}", postgres_url):
        db = SqlDatabase(url=url, store="warehouse")
        ensure_tables(db)
        sync_resource(api, db, RESOURCES["sales"])
        table = CHILD_TABLES["sales_lines"]
        with db.connect() as c:
            columns = [col for col in table.columns if col.name != "raw"]
            found.append(sorted(tuple(r) for r in c.execute(sa.select(*columns))))
        db.dispose()
    assert found[0] == found[1]
    mine = [r for r in found[1] if r[0] == sale_id]
    assert [r[2:] for r in mine] == [
        ("Qa1Ws2Ed3Rf4Tg5Y", Decimal("2.5"), Decimal("10"), Decimal("5"), None),
        (None, Decimal(1), Decimal(1), Decimal(3), None),
        (None, Decimal(100), Decimal(2), None, Decimal(12)),
        ("12345", Decimal("1.123457"), Decimal("-0.5"), None, Decimal(15)),
    ]
