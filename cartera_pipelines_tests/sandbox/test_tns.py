"""The TNS sandbox: deterministic, WIN1252 names, check-digit cases, enough seasonal history."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import yaml

from cartera_pipelines.defs.tns.nit import parse_nit
from cartera_pipelines_tests.defs.tns.conftest import build_sqlite_sandbox


def _dump(root: Path) -> dict[str, list[tuple]]:
    out = {}
    for db in sorted((root / "tns").rglob("*.db")):
        with sqlite3.connect(db) as conn:
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                out[f"{db.relative_to(root)}:{table}"] = conn.execute(f"SELECT * FROM {table}").fetchall()
    return out


def test_build_is_deterministic_and_writes_the_servers_file(tmp_path: Path) -> None:
    a = build_sqlite_sandbox(tmp_path / "a")
    b = build_sqlite_sandbox(tmp_path / "b")
    assert _dump(tmp_path / "a") == _dump(tmp_path / "b")
    servers = yaml.safe_load(a.servers_file.read_text(encoding="utf-8"))["servers"]
    assert [s["name"] for s in servers] == ["principal", "sucursal"]
    assert all(s["driver"] == "sqlite" and Path(s["admin_path"]).exists() for s in servers)
    assert b.source().servers()[1].name == "sucursal"


def test_content_covers_the_cases_the_family_must_handle(tmp_path: Path) -> None:
    sandbox = build_sqlite_sandbox(tmp_path)
    source = sandbox.source()
    empresas = [row for server in source.servers() for row in source.empresas(server)]
    names = [r[1] for r in empresas]
    assert (
        all(n.encode("cp1252") for n in names)
        and any("Ñ" in n for n in names)
        and any(set(n) & set("áéíóúÁÉÍÓÚ") for n in names)
    )
    statuses = {parse_nit(r[2]).status for r in empresas}
    assert statuses == {"valid", "invalid_check_digit", "no_check_digit"}
    keys = [(parse_nit(r[2]).number, r[3]) for r in empresas]
    assert len(keys) - len(set(keys)) == 1  # one duplicate company-year across the servers

    server = source.server("principal")
    codes: set[str] = set()
    voided = unposted = 0
    monthly: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for year in (2023, 2024, 2025):
        with sqlite3.connect(source.company_path(server, f"ANDINA_{year}.db")) as conn:
            codes |= {c for (c,) in conn.execute("SELECT DISTINCT CODCOMP FROM KARDEX")}
            voided += conn.execute("SELECT COUNT(*) FROM KARDEX WHERE FECANULADO IS NOT NULL").fetchone()[0]
            unposted += conn.execute("SELECT COUNT(*) FROM KARDEX WHERE FECASENTAD IS NULL").fetchone()[0]
            for art, month, qty in conn.execute(
                "SELECT M.CODIGO, substr(K.FECHA, 1, 7), SUM(D.CANMAT) FROM DEKARDEX D JOIN KARDEX K USING (KARDEXID) "
                "JOIN MATERIAL M USING (MATID) WHERE K.CODCOMP = 'FV' GROUP BY 1, 2"
            ):
                monthly[art][month] = qty
    assert {"FV", "DV", "FC", "DC", "RE", "NC", "XX"} <= codes
    assert voided > 0 and unposted > 0
    long_history = [a for a, months in monthly.items() if len(months) >= 30]
    assert len(long_history) >= 30
    # Yearly seasonality: an article's monthly sales correlate with the same months a year later.
    import numpy as np

    corr = []
    for art in long_history:
        y1 = [monthly[art].get(f"2024-{m:02d}", 0) for m in range(1, 13)]
        y2 = [monthly[art].get(f"2025-{m:02d}", 0) for m in range(1, 13)]
        corr.append(np.corrcoef(y1, y2)[0, 1])
    assert float(np.nanmedian(corr)) > 0.5
