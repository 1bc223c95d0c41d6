"""Checks on the tns tables (the movements' per-partition checks are computed by the asset itself)."""

import dagster as dg

from cartera_pipelines.defs.tns import assets, sql
from cartera_pipelines.defs.tns.companies import possible_duplicates
from cartera_pipelines.defs.tns.nit import INVALID_CHECK_DIGIT
from cartera_pipelines.lib.checks import offenders_check, rows_check
from cartera_pipelines.lib.dates import utcnow
from cartera_pipelines.resources.database import SqlDatabase


@dg.asset_check(
    asset=assets.tns_companies, description="Discovery found at least one company-year with a NIT."
)
def has_companies(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        found = sql.count_companies(conn)
    return dg.AssetCheckResult(passed=found > 0, metadata={"company_years": found})


@dg.asset_check(
    asset=assets.tns_companies,
    description="No (NIT, ANOFIS) is on two servers. A duplicate is loaded once (first server) and reported here.",
)
def company_years_unique_across_servers(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        return offenders_check(
            conn,
            sql.duplicate_offenders(),
            "company-years also found on a later server (not loaded from there)",
            severity=dg.AssetCheckSeverity.WARN,
        )


@dg.asset_check(
    asset=assets.tns_companies,
    description="Every NIT written with a check digit has the right DIAN modulo-11 digit (absent digits pass).",
)
def nit_check_digits_valid(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        return offenders_check(
            conn,
            sql.invalid_check_digit_offenders(INVALID_CHECK_DIGIT),
            "company-years whose NIT is written with a wrong check digit",
            severity=dg.AssetCheckSeverity.WARN,
        )


@dg.asset_check(
    asset=assets.tns_companies,
    description="No ten-digit NIT written without dash looks like a nine-digit NIT plus its DIAN check "
    "digit (e.g. 9001234568 for 900.123.456-8): such a company may be discovered twice.",
)
def nit_possible_duplicates(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        companies = sql.stored_companies(conn)
    return rows_check(
        possible_duplicates(companies),
        "ten-digit NITs that may be a nine-digit NIT with its check digit",
        severity=dg.AssetCheckSeverity.WARN,
    )


@dg.asset_check(
    asset=assets.api_key_companies,
    description="No expired or revoked API key is active or linked to a company.",
)
def no_inactive_key_linked(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    with warehouse_db.connect() as conn:
        return offenders_check(
            conn,
            sql.inactive_key_offenders(utcnow()),
            "API keys active though expired, or inactive yet linked",
        )
