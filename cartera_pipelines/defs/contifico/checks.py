"""Asset checks of the contifico family (they read the warehouse only, never the API)."""

from __future__ import annotations

import dagster as dg

from cartera_pipelines.defs.contifico import sql
from cartera_pipelines.defs.contifico.catalog import CATALOG, CatalogEntry
from cartera_pipelines.defs.contifico.sync import ensure_tables
from cartera_pipelines.defs.contifico.tables import RESOURCE_TABLES, rejects, sync_state
from cartera_pipelines.lib.checks import offenders_check, rows_check
from cartera_pipelines.lib.metadata import count_rows
from cartera_pipelines.resources.database import SqlDatabase


def build_resource_checks(resource: CatalogEntry) -> dg.AssetChecksDefinition:
    table = RESOURCE_TABLES[resource.name]
    key = dg.AssetKey(["warehouse", table.name])

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                "live_rows_match_last_sync",
                asset=key,
                description=(
                    "Every stored row has a 64-character content hash, and after a trusted full scan the "
                    "live rows (deleted_at empty) are the records the scan fetched, rejects aside."
                ),
            ),
            dg.AssetCheckSpec(
                "no_open_rejects",
                asset=key,
                description="Lists the records that could not be typed (contifico_rejects); warns, never blocks.",
            ),
        ],
        name=f"{table.name}_checks",
    )
    def _checks(warehouse_db: SqlDatabase):
        ensure_tables(warehouse_db)
        with warehouse_db.connect() as conn:
            live = count_rows(conn, table, table.c.deleted_at.is_(None))
            hashes = offenders_check(
                conn,
                sql.bad_hashes(table),
                "rows with a bad content hash",
                check_name="live_rows_match_last_sync",
            )
            state = sql.last_sync(conn, sync_state, resource.name)
            yield offenders_check(
                conn,
                sql.open_rejects(rejects, resource.name),
                f"{resource.name} records rejected (see contifico_rejects)",
                severity=dg.AssetCheckSeverity.WARN,
                check_name="no_open_rejects",
            )
        full = state is not None and state.mode == "full" and state.last_status == "success"
        expected = (state.fetched - (state.rejected or 0)) if full else None
        # Rejected records that were stored before stay live with their last good version.
        passed = hashes.passed and (expected is None or live >= expected)
        yield dg.AssetCheckResult(
            check_name="live_rows_match_last_sync",
            passed=bool(passed),
            metadata={**hashes.metadata, "live_rows": live, "last_full_scan_typed": expected if full else -1},
        )

    return _checks


contifico_resource_checks = [build_resource_checks(resource) for resource in CATALOG]


@dg.asset_check(
    asset=dg.AssetKey(["warehouse", sync_state.name]),
    name="every_resource_synced",
    description="All 17 resources have a sync state row and their last sync succeeded.",
)
def every_resource_synced(warehouse_db: SqlDatabase) -> dg.AssetCheckResult:
    ensure_tables(warehouse_db)
    with warehouse_db.connect() as conn:
        rows = {r["resource"]: r["last_status"] for r in sql.state_rows(conn, sync_state)}
    offenders = [{"resource": r.name, "last_status": rows.get(r.name, "never synced")} for r in CATALOG]
    offenders = [row for row in offenders if row["last_status"] != "success"]
    return rows_check(offenders, "resources not synced successfully", severity=dg.AssetCheckSeverity.WARN)
