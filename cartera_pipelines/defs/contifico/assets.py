"""Assets of the contifico family: one ``warehouse/contifico_<resource>`` per catalog entry, plus
``warehouse/contifico_sync_state``. Thin: the sync itself is ``sync.py``."""

import datetime as dt

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from cartera_pipelines.defs.contifico.catalog import CATALOG, ContificoResource
from cartera_pipelines.defs.contifico.sync import MassDeletionError, SyncOptions, ensure_tables, sync_resource
from cartera_pipelines.defs.contifico.tables import RESOURCE_TABLES, sync_state
from cartera_pipelines.lib.metadata import count_rows, preview, preview_query, table_metadata
from cartera_pipelines.resources.contifico import (
    ContificoApi,
    ContificoAuthError,
    ContificoHttpError,
    ContificoPayloadError,
)
from cartera_pipelines.resources.database import SqlDatabase

GROUP = "contifico"
OWNERS = ["team:contifico"]
KINDS = {"rest", "postgres"}
POOL = "contifico_api"

contifico_api = dg.AssetSpec(
    key=["contifico", "api"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"rest"},
    description="The Contifico REST API (CONTIFICO_API_BASE_URL): the source of every contifico_* table.",
)


class ContificoSyncConfig(dg.Config):
    """Run config of a Contifico sync (the defaults are the hourly incremental)."""

    since: str | None = Field(
        default=None,
        description="Read records modified on or after this day (YYYY-MM-DD) instead of the cursor.",
    )
    full_refresh: bool = Field(
        default=False, description="Read everything and mark records no longer returned as deleted."
    )
    page_size: int | None = Field(
        default=None, description="Records per page (default: CONTIFICO_PAGE_SIZE)."
    )
    overlap_minutes: int = Field(
        default=120, description="Overlap behind the cursor, so nothing changed mid-sync is missed."
    )
    max_deleted_fraction: float = Field(
        default=0.5,
        description="A full scan marking more than this share of live rows deleted fails instead.",
    )

    def options(self) -> SyncOptions:
        since = None
        if self.since:
            try:
                since = dt.date.fromisoformat(self.since.strip())
            except ValueError:
                raise dg.Failure(
                    description=f"run config since={self.since!r} is not a YYYY-MM-DD date"
                ) from None
        return SyncOptions(
            since=since,
            full_refresh=self.full_refresh,
            page_size=self.page_size,
            overlap=dt.timedelta(minutes=self.overlap_minutes),
            max_deleted_fraction=self.max_deleted_fraction,
        )


def _preview_columns(table: sa.Table) -> list[sa.Column]:
    typed = [c for c in table.columns if c.name not in ("raw", "content_hash", "first_seen_at", "deleted_at")]
    return typed[:8]


def build_resource_asset(resource: ContificoResource) -> dg.AssetsDefinition:
    table = RESOURCE_TABLES[resource.name]
    mode = "incremental by fecha_modificacion" if resource.incremental else "full scan every run"

    @dg.asset(
        key=["warehouse", table.name],
        group_name=GROUP,
        owners=OWNERS,
        kinds=KINDS,
        pool=POOL,
        deps=[contifico_api],
        description=(
            f"{resource.description} Synced from Contifico `{resource.display_endpoint}` "
            f"({resource.version}, {mode}); raw JSON, content hash and typed columns, deletions as `deleted_at`."
        ),
        metadata={
            **table_metadata(table),
            "contifico/endpoint": resource.display_endpoint,
            "contifico/mode": mode,
        },
    )
    def _sync(
        context: dg.AssetExecutionContext,
        config: ContificoSyncConfig,
        contifico: ContificoApi,
        warehouse_db: SqlDatabase,
    ) -> dg.MaterializeResult:
        ensure_tables(warehouse_db)
        try:
            stats = sync_resource(contifico, warehouse_db, resource, config.options(), log=context.log.info)
        except ContificoAuthError as error:
            raise dg.Failure(description=str(error), allow_retries=False) from None
        except (ContificoPayloadError, ContificoHttpError, MassDeletionError) as error:
            raise dg.Failure(description=f"{resource.name}: {error}") from None
        with warehouse_db.connect() as conn:
            live = count_rows(conn, table, table.c.deleted_at.is_(None))
            recent = preview_query(
                conn, sa.select(*_preview_columns(table)).order_by(table.c.fetched_at.desc(), table.c.id)
            )
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": live,
                "mode": stats.mode,
                "since": stats.since or "",
                **stats.counts(),
                "records_per_second": round(stats.fetched / stats.seconds, 1) if stats.seconds else 0.0,
                "preview": recent,
            }
        )

    return _sync


contifico_resource_assets = tuple(build_resource_asset(resource) for resource in CATALOG)
# One module-level name per asset: the defs loader collects module attributes, not list items.
for _asset in contifico_resource_assets:
    globals()[f"{_asset.key.path[-1]}_asset"] = _asset
del _asset


@dg.asset(
    key=["warehouse", sync_state.name],
    group_name=GROUP,
    owners=OWNERS,
    kinds=KINDS,
    deps=[a.key for a in contifico_resource_assets],
    metadata=table_metadata(sync_state),
)
def contifico_sync_state(warehouse_db: SqlDatabase) -> dg.MaterializeResult:
    """Cursor and last-run figures of every Contifico resource (written by each resource's sync, after
    its rows commit); materializing it reports the state of all 17 resources."""
    ensure_tables(warehouse_db)
    with warehouse_db.connect() as conn:
        rows = [
            dict(r) for r in conn.execute(sa.select(sync_state).order_by(sync_state.c.resource)).mappings()
        ]
    failed = [r["resource"] for r in rows if r["last_status"] != "success"]
    never = sorted({r.name for r in CATALOG} - {r["resource"] for r in rows})
    columns = [
        "resource",
        "mode",
        "last_status",
        "cursor_at",
        "fetched",
        "new",
        "changed",
        "deleted",
        "retries",
        "seconds",
    ]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "failed": ", ".join(failed) or "none",
            "never_synced": ", ".join(never) or "none",
            "preview": preview(rows, columns, limit=len(CATALOG)),
        }
    )
