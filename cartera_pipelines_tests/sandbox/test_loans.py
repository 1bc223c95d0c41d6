"""The loans sandbox: deterministic, every case the asset must handle, writable into SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from cartera_pipelines.defs.loans.tables import cuotas, prestamos
from cartera_pipelines.defs.loans.terms import Method, Modality
from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines.sandbox import loans
from cartera_pipelines.sandbox.targets import SandboxTargets


def _targets(tmp_path: Path, url: str) -> SandboxTargets:
    return SandboxTargets(
        home=tmp_path,
        lending_url="",
        operations_url=url,
        warehouse_url="",
        tns_servers_file=tmp_path / "tns.yaml",
    )


def test_generation_is_deterministic_and_scales() -> None:
    assert loans.generate(1, 42) == loans.generate(1, 42)
    assert loans.generate(1, 42) != loans.generate(1, 7)
    assert len(loans.generate(3, 42)[0]) == 3 * loans.LOANS_PER_SCALE


def test_the_mix_covers_every_case() -> None:
    rows, installments = loans.generate()
    approved = [r for r in rows if r["estado"] == "APROBADO"]
    states = Counter(r["estado"] for r in rows)
    assert 0.6 < states["APROBADO"] / len(rows) < 0.85 and len(states) >= 3
    combos = {(r["metodo_amortizacion"], r["modalidad_pago"]) for r in approved}
    assert {(m.value, q.value) for m in Method for q in Modality} <= combos
    assert any(r["tasa_interes"] == 0 for r in approved)
    assert any(r["numero_cuotas"] == 1 for r in approved)
    assert any(r["fecha_base_calculo"] is not None and r["fecha_base_calculo"].day == 31 for r in approved)
    assert len(loans.INVALID_TERMS) == 6
    scheduled = {i["prestamo_id"] for i in installments}
    paid = {i["prestamo_id"] for i in installments if i["capital_pagado"] > 0}
    assert 0.1 < len(scheduled) / len(approved) < 0.25
    assert len(paid) >= 2
    assert {i["estado"] for i in installments} >= {"PAGADO", "PARCIAL"}


def test_builds_into_sqlite_and_postgres(tmp_path: Path, postgres_url: str) -> None:
    rows, installments = loans.generate()
    for url in (f"sqlite:///{tmp_path / 'operations.db'}", postgres_url):
        counts = loans.build(_targets(tmp_path, url))
        assert counts == {"prestamos": len(rows), "cuotas": len(installments)}
        engine = create_store_engine(url)
        with engine.begin() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(cuotas)).scalar_one() == len(
                installments
            )
            # new loans written after the build get fresh ids (the serial was moved past the explicit ones)
            new_id = conn.execute(
                prestamos.insert().values(estado="SOLICITADO").returning(prestamos.c.id)
            ).scalar_one()
        engine.dispose()
        assert new_id == len(rows) + 1
