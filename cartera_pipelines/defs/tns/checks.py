"""Checks on the tns tables (the movements' per-partition checks are computed by the asset itself)."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.tns import tables as t
from cartera_pipelines.defs.tns.nit import INVALID_CHECK_DIGIT
from cartera_pipelines.lib.metadata import markdown_table
from cartera_pipelines.resources.database import SqlDatabase

COMPANIES = dg.AssetKey(["warehouse", "tns_companies"])
KEY_LINKS = dg.AssetKey(["warehouse", "api_key_companies"])


@dg.asset_check(asset=COMPANIES, description="Discovery found at least one company-year with a NIT.")
def has_companies(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        n = int(conn.execute(sa.select(sa.func.count()).select_from(t.tns_companies)).scalar_one())
    return dg.AssetCheckResult(passed=n > 0, metadata={"company_years": n})


@dg.asset_check(
    asset=COMPANIES,
    description="No (NIT, ANOFIS) is on two servers. A duplicate is loaded once (first server) and reported here.",
)
def company_years_unique_across_servers(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    d = t.tns_company_duplicates
    with warehouse_db.connect() as conn:
        rows = (
            conn.execute(
                sa.select(d.c.company_year, d.c.server, d.c.archivo, d.c.kept_server).order_by(
                    d.c.company_year
                )
            )
            .mappings()
            .all()
        )
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "duplicates": len(rows),
            "detail": dg.MetadataValue.md(markdown_table([dict(r) for r in rows], limit=50)),
        },
    )


@dg.asset_check(
    asset=COMPANIES,
    description="Every NIT written with a check digit has the right DIAN modulo-11 digit (absent digits pass).",
)
def nit_check_digits_valid(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    c = t.tns_companies
    with warehouse_db.connect() as conn:
        rows = (
            conn.execute(
                sa.select(c.c.company_year, c.c.company_name, c.c.nit_raw, c.c.check_digit)
                .where(c.c.nit_status == INVALID_CHECK_DIGIT)
                .order_by(c.c.company_year)
            )
            .mappings()
            .all()
        )
    return dg.AssetCheckResult(
        passed=not rows,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "invalid": len(rows),
            "detail": dg.MetadataValue.md(
                markdown_table([{**r, "expected check digit": r["check_digit"]} for r in rows], limit=50)
            ),
        },
    )


@dg.asset_check(
    asset=KEY_LINKS, description="No expired or revoked API key is active or linked to a company."
)
def no_inactive_key_linked(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    k, links = t.api_keys, t.api_key_companies
    now = dt.datetime.now(dt.UTC)
    with warehouse_db.connect() as conn:
        expired_active = int(
            conn.execute(
                sa.select(sa.func.count()).where(k.c.active.is_(True), k.c.expires_at <= now)
            ).scalar_one()
        )
        inactive_linked = int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(links.join(k, k.c.id == links.c.api_key_id))
                .where(k.c.active.is_(False))
            ).scalar_one()
        )
    return dg.AssetCheckResult(
        passed=expired_active == 0 and inactive_linked == 0,
        metadata={"expired_but_active": expired_active, "inactive_but_linked": inactive_linked},
    )
