"""The collections sandbox: deterministic, realistic spread, loads into every engine."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from cartera_pipelines.defs.collections import sql
from cartera_pipelines.defs.collections.tables import (
    contract_advisors,
    contract_advisors_history,
    contract_amortization,
    contract_status,
    managements,
)
from cartera_pipelines.sandbox import collections as sandbox
from cartera_pipelines.sandbox.targets import SandboxTargets

TODAY = dt.date(2026, 11, 21)


def _build(home: Path, lending: str, operations: str, seed: int = 42) -> dict[str, int]:
    home.mkdir(parents=True, exist_ok=True)
    targets = SandboxTargets(
        home=home,
        lending_url=lending,
        operations_url=operations,
        warehouse_url="sqlite://",
        tns_servers_file=home / "t.yaml",
    )
    return sandbox.build(targets, scale=1, seed=seed, today=TODAY)


def _rows(url: str, table: sa.Table) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]
    engine.dispose()
    return rows


def test_same_seed_same_rows_other_seed_other_rows(tmp_path: Path) -> None:
    urls = {name: f"sqlite:///{tmp_path / name}.db" for name in ("l1", "o1", "l2", "o2", "l3", "o3")}
    _build(tmp_path / "a", urls["l1"], urls["o1"])
    _build(tmp_path / "b", urls["l2"], urls["o2"])
    _build(tmp_path / "c", urls["l3"], urls["o3"], seed=43)
    for lending_table in (contract_status, contract_amortization):
        assert _rows(urls["l1"], lending_table) == _rows(urls["l2"], lending_table)
    for ops_table in (managements, contract_advisors, contract_advisors_history):
        assert _rows(urls["o1"], ops_table) == _rows(urls["o2"], ops_table)
    assert _rows(urls["l1"], contract_amortization) != _rows(urls["l3"], contract_amortization)


def test_realistic_spread(tmp_path: Path) -> None:
    lending, operations = f"sqlite:///{tmp_path}/l.db", f"sqlite:///{tmp_path}/o.db"
    counts = _build(tmp_path / "h", lending, operations)
    assert counts["contract_status"] == 4000 and counts["contract_amortization"] == 20000
    engine = sa.create_engine(lending)
    with engine.connect() as conn:
        arrears = sql.read_arrears(conn, TODAY)
        statuses = Counter(conn.execute(sa.select(contract_status.c.status)).scalars())
    engine.dispose()
    assert statuses["ACTIVO"] > 3000 and sum(statuses.values()) - statuses["ACTIVO"] > 100
    assert sum(1 for d in arrears.values() if d <= 60) > 500
    assert sum(1 for d in arrears.values() if d >= 61) > 1000

    fixed_rows = [r for r in _rows(operations, managements) if r[3] == "pago_total"]
    assert {r[2] for r in fixed_rows} >= {45, 81} and {r[2] for r in fixed_rows} - {45, 81}
    assert {r[3] for r in _rows(operations, managements)} > {"pago_total"}
    holdings = _rows(operations, contract_advisors)
    assert {r[2] for r in holdings} == {45, 81, 12}
    assert sum(1 for r in holdings if arrears.get(r[1], 0) < 61) > 50  # now at 0–60 days: to clean up
    open_rows = Counter((r[1], r[2]) for r in _rows(operations, contract_advisors_history) if r[4] is None)
    assert all(open_rows[(r[1], r[2])] == 1 for r in holdings)


def test_loads_into_every_engine(any_store_url: str, tmp_path: Path) -> None:
    counts = _build(tmp_path / "h", any_store_url, any_store_url)
    for table in (
        contract_status,
        contract_amortization,
        managements,
        contract_advisors,
        contract_advisors_history,
    ):
        assert len(_rows(any_store_url, table)) == counts[table.name] > 0
    engine = sa.create_engine(any_store_url)
    with engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.sum(contract_amortization.c.pending_balance))).scalar_one()
    engine.dispose()
    assert total > 0
