"""Assets of the contifico family: one sync per catalog entry (``warehouse/contifico_<resource>`` and its
child tables), plus the reports ``contifico_sync_state``, ``contifico_rejects`` and
``contifico_schema_drift`` written by those syncs. Thin: the sync itself is ``sync.py``."""

import dagster as dg
import sqlalchemy as sa

from cartera_pipelines.defs.contifico import sql
from cartera_pipelines.defs.contifico.catalog import CATALOG, CatalogEntry
from cartera_pipelines.defs.contifico.config import ContificoSyncConfig
from cartera_pipelines.defs.contifico.sync import MassDeletionError, ensure_tables, sync_resource
from cartera_pipelines.defs.contifico.tables import (
    CHILD_TABLES,
    RESOURCE_TABLES,
    rejects,
    schema_drift,
    sync_state,
)
from cartera_pipelines.lib.metadata import count_rows, preview, preview_query, table_metadata
from cartera_pipelines.resources.contifico import ContificoApi, ContificoAuthError, ContificoError
from cartera_pipelines.resources.database import SqlDatabase

KINDS = {"rest", "postgres"}
POOL = "contifico_api"

contifico_api = dg.AssetSpec(
    key=["contifico", "api"],
    kinds={"rest"},
    description="The Contifico REST API (CONTIFICO_API_BASE_URL): the source of every contifico_* table.",
)


def _specs(resource: CatalogEntry) -> list[dg.AssetSpec]:
    table = RESOURCE_TABLES[resource.name]
    mode = f"incremental by {resource.change_filter}" if resource.incremental else "full scan every run"
    parent = dg.AssetSpec(
        key=["warehouse", table.name],
        kinds=KINDS,
        deps=[contifico_api],
        description=(
            f"{resource.description} Synced from Contifico `{resource.display_endpoint}` ({resource.version}, "
            f"{mode}); raw JSON, content hash and typed columns, deletions as `deleted_at`."
        ),
        metadata={
            **table_metadata(table),
            "contifico/endpoint": resource.display_endpoint,
            "contifico/mode": mode,
        },
    )
    children = [
        dg.AssetSpec(
            key=["warehouse", child.table_name],
            kinds=KINDS,
            deps=[contifico_api],
            description=f"The `{child.array}` of {table.name}, one row per line; replaced with its parent.",
            metadata=table_metadata(CHILD_TABLES[child.name]),
        )
        for child in resource.children
    ]
    return [parent, *children]


def _report(db: SqlDatabase, table: sa.Table, facts: dict[str, object]) -> dg.MaterializeResult:
    with db.connect() as conn:
        live = count_rows(conn, table, table.c.deleted_at.is_(None) if "deleted_at" in table.c else None)
        recent = preview_query(conn, sql.recent_rows(table))
    return dg.MaterializeResult(
        asset_key=["warehouse", table.name], metadata={"dagster/row_count": live, **facts, "preview": recent}
    )


def build_resource_asset(resource: CatalogEntry) -> dg.AssetsDefinition:
    # Subsettable: selecting only the resource (or only a child table) still runs the one sync, which
    # writes parent and lines together; only the selected tables are reported.
    @dg.multi_asset(
        name=f"warehouse__{resource.table_name}", specs=_specs(resource), pool=POOL, can_subset=True
    )
    def _sync(
        context: dg.AssetExecutionContext,
        config: ContificoSyncConfig,
        contifico: ContificoApi,
        warehouse_db: SqlDatabase,
    ):
        ensure_tables(warehouse_db)
        try:
            stats = sync_resource(contifico, warehouse_db, resource, config.options(), log=context.log.info)
        except ContificoAuthError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        except (ContificoError, MassDeletionError) as error:
            raise dg.Failure(description=f"{resource.name}: {error}") from None
        with warehouse_db.connect() as conn:
            drift = sql.drift_fields(conn, schema_drift, resource.name)
        facts = {
            "mode": stats.mode,
            "since": stats.since or "",
            **{k: v if v is not None else "" for k, v in stats.counts().items()},
            "lines": stats.lines,
            "records_per_second": round(stats.fetched / stats.seconds, 1) if stats.seconds else 0.0,
            "drift": preview(drift, ["field", "first_seen_at", "example"], limit=50),
        }
        selected = context.selected_asset_keys
        table = RESOURCE_TABLES[resource.name]
        if dg.AssetKey(["warehouse", table.name]) in selected:
            yield _report(warehouse_db, table, facts)
        for child in resource.children:
            if dg.AssetKey(["warehouse", child.table_name]) in selected:
                yield _report(warehouse_db, CHILD_TABLES[child.name], {"lines_written": stats.lines})

    return _sync


# A list: the defs loader collects module-level lists of definitions (no globals() tricks).
contifico_resource_assets = [build_resource_asset(resource) for resource in CATALOG]
SYNCED_KEYS = [key for a in contifico_resource_assets for key in a.keys]
"""Every table a sync writes: the resources and their child tables."""
RESOURCE_KEYS = [dg.AssetKey(["warehouse", r.table_name]) for r in CATALOG]
REPORT_KEYS = [dg.AssetKey(["warehouse", t.name]) for t in (sync_state, rejects, schema_drift)]


@dg.asset(
    key=["warehouse", sync_state.name],
    kinds=KINDS,
    deps=RESOURCE_KEYS,
    metadata=table_metadata(sync_state),
    automation_condition=dg.AutomationCondition.eager(),
)
def contifico_sync_state(warehouse_db: SqlDatabase) -> dg.MaterializeResult:
    """Cursor and last-run figures of every Contifico resource (written by each resource's sync, after
    its rows commit): pages, retries, rejects, records without fecha_modificacion, drift fields and
    deletions skipped with the reason. Follows the syncs."""
    ensure_tables(warehouse_db)
    with warehouse_db.connect() as conn:
        rows = sql.state_rows(conn, sync_state)
    failed = [r["resource"] for r in rows if r["last_status"] != "success"]
    never = sorted({r.name for r in CATALOG} - {r["resource"] for r in rows})
    columns = ["resource", "mode", "last_status", "cursor_at", "fetched", "new", "changed", "deleted"]
    columns += ["rejected", "without_modified", "drift_fields", "deletions_skipped", "retries", "seconds"]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "failed": ", ".join(failed) or "none",
            "never_synced": ", ".join(never) or "none",
            "preview": preview(rows, columns, limit=len(CATALOG)),
        }
    )


def _table_report(table: sa.Table, what: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["warehouse", table.name],
        kinds=KINDS,
        deps=RESOURCE_KEYS,
        metadata=table_metadata(table),
        automation_condition=dg.AutomationCondition.eager(),
        description=f"{what} Written by the resource syncs; materializing it reports the table. Follows the syncs.",
    )
    def _asset(warehouse_db: SqlDatabase) -> dg.MaterializeResult:
        ensure_tables(warehouse_db)
        with warehouse_db.connect() as conn:
            rows = count_rows(conn, table)
            recent = preview_query(conn, sa.select(table).order_by(*table.primary_key), limit=20)
        return dg.MaterializeResult(metadata={"dagster/row_count": rows, "preview": recent})

    return _asset


contifico_rejects = _table_report(
    rejects, "Contifico records that could not be typed (resource, id, field, value, reason, raw)."
)
contifico_schema_drift = _table_report(
    schema_drift, "Fields the Contifico API sends that the catalog does not know (first seen, example)."
)
