"""API keys: the CLI stores only hashes; the asset links active keys and deactivates expired ones."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from cartera_pipelines.cli import main
from cartera_pipelines.defs.tns import assets as tns_assets
from cartera_pipelines.defs.tns import checks as tns_checks
from cartera_pipelines.defs.tns.tables import api_key_companies, api_keys
from cartera_pipelines.resources.database import SqlDatabase

from .conftest import TnsSandbox, ephemeral_instance


def _cli(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> str:
    monkeypatch.setenv("CARTERA_WAREHOUSE_URL", url)
    result = CliRunner().invoke(main, ["api-keys", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_keys_stored_only_as_hashes_linked_and_expired_deactivated(
    cartera_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    sqlite_tns: TnsSandbox,
    warehouse: SqlDatabase,
    warehouse_url: str,
) -> None:
    out = _cli(
        monkeypatch,
        warehouse_url,
        "issue",
        "--nit",
        "900.123.456-8",
        "--client",
        "Tienda Ñandú",
        "--days",
        "30",
    )
    [key] = re.findall(r"sk_[A-Za-z0-9_\-]{20,}", out)
    other = re.findall(
        r"sk_[A-Za-z0-9_\-]{20,}",
        _cli(monkeypatch, warehouse_url, "issue", "--nit", "860512330", "--client", "Otro", "--days", "5"),
    )[0]
    with warehouse.begin() as conn:
        rows = conn.execute(sa.select(api_keys)).mappings().all()
        # Make the second key expired, as if 5 days had passed.
        conn.execute(
            api_keys.update()
            .where(api_keys.c.nit == "860512330")
            .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
        )
    stored = " ".join(str(v) for r in rows for v in r.values())
    assert key not in stored and other not in stored
    assert {r["key_hash"] for r in rows} == {hashlib.sha256(k.encode()).hexdigest() for k in (key, other)}
    assert {r["prefix"] for r in rows} == {key[:11], other[:11]}

    listed = _cli(monkeypatch, warehouse_url, "list", "--all")
    assert key[:11] in listed and key not in listed and other not in listed

    resources = {"tns": sqlite_tns.source(), "warehouse_db": warehouse}
    with ephemeral_instance() as instance:
        result = dg.materialize(
            [tns_assets.tns_companies, tns_assets.api_key_companies, tns_checks.no_inactive_key_linked],
            instance=instance,
            resources=resources,
        )
        assert result.success
        [check] = [
            e for e in result.get_asset_check_evaluations() if e.check_name == "no_inactive_key_linked"
        ]
        assert check.passed
    with warehouse.connect() as conn:
        active = dict(conn.execute(sa.select(api_keys.c.nit, api_keys.c.active)).all())
        links = conn.execute(sa.select(api_key_companies.c.nit, api_key_companies.c.company_year)).all()
    assert active == {"900123456": True, "860512330": False}
    assert sorted(c for _, c in links) == ["900123456_2023", "900123456_2024", "900123456_2025"]

    assert "revoked" in _cli(monkeypatch, warehouse_url, "revoke", key[:11])
    with warehouse.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(api_key_companies)).scalar_one() == 0
        assert not conn.execute(
            sa.select(api_keys.c.active).where(api_keys.c.prefix == key[:11])
        ).scalar_one()
    assert "no active API keys" in _cli(monkeypatch, warehouse_url, "list")


def test_issue_refuses_a_wrong_check_digit(
    cartera_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CARTERA_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    result = CliRunner().invoke(main, ["api-keys", "issue", "--nit", "900123456-1", "--client", "X"])
    assert result.exit_code != 0 and "should be 8" in result.output
    assert "sk_" not in result.output
