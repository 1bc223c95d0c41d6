"""``cartera pools``: size the Dagster concurrency pools (one per external system) from configuration.

Every asset that opens a connection to an external system declares that system's pool (``pool=``);
the TNS extraction claims ``tns_<server>`` itself (``defs/tns/concurrency.py``). A pool's limit is the
number of steps that may hold a connection to that system at once, across every run on the instance.
``cartera pools apply`` writes the limits into the instance (the same store the UI's Deployment →
Concurrency page and ``dagster instance concurrency set`` edit); run it after each deploy.

Limits come, in order of precedence, from a ``pools:`` mapping in the YAML file given with ``--config``,
then from each TNS server's ``max_concurrent`` (servers file, ``CARTERA_TNS_SERVERS``), then from
:data:`DEFAULT_LIMITS`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from cartera_pipelines.lib.config_files import PoolsFile, load_config_file
from cartera_pipelines.resources.tns import TnsConfigError, load_servers
from cartera_pipelines.settings import MissingSettingError, Settings, load_settings

DEFAULT_LIMITS: dict[str, int] = {
    "lending_db": 2,
    "operations_db": 4,
    "warehouse_db": 4,
    "contifico_api": 2,
}
"""Connection budgets when nothing else is configured: lending is someone else's MySQL (read-only, be
gentle), operations and the warehouse are our PostgreSQL, Contifico rate-limits per API key."""


class PoolConfigError(ValueError):
    """The pools file is malformed (one line naming the file, the pool and the field)."""


@dataclass(frozen=True)
class PoolLimit:
    pool: str
    limit: int
    source: str
    """Where the limit comes from: ``default``, ``servers file`` or the pools file's path."""


def load_pools_file(path: Path) -> dict[str, int]:
    """The ``pools:`` mapping of a YAML file (``{pool: limit}``), validated by ``PoolsFile``."""
    return dict(load_config_file(path, PoolsFile, what="pools file", error=PoolConfigError).pools)


def resolve_limits(settings: Settings, config_file: Path | None) -> tuple[list[PoolLimit], list[str]]:
    """Every pool's limit and where it comes from, plus warnings (e.g. no TNS servers file)."""
    limits = {pool: PoolLimit(pool, limit, "default") for pool, limit in DEFAULT_LIMITS.items()}
    warnings: list[str] = []
    try:
        for server in load_servers(settings.tns_servers_file):
            limits[server.pool] = PoolLimit(server.pool, server.max_concurrent, "servers file")
    except (TnsConfigError, MissingSettingError) as exc:
        warnings.append(f"no TNS pools: {exc}")
    if config_file is not None:
        for pool, limit in load_pools_file(config_file).items():
            limits[pool] = PoolLimit(pool, limit, str(config_file))
    return sorted(limits.values(), key=lambda p: p.pool), warnings


def _instance(settings: Settings):  # -> dg.DagsterInstance
    import dagster as dg

    home = settings.dagster_home.resolve()
    if not (home / "dagster.yaml").exists():
        raise click.ClickException(
            f"{home} has no dagster.yaml: set DAGSTER_HOME to the instance directory (`make setup` creates it)"
        )
    instance = dg.DagsterInstance.from_config(str(home))
    if not instance.event_log_storage.supports_global_concurrency_limits:
        raise click.ClickException(f"the Dagster instance at {home} does not support concurrency pools")
    return instance


@click.group()
def pools() -> None:
    """Size and inspect the Dagster concurrency pools (one per external system)."""


@pools.command("apply")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="YAML file with a `pools:` mapping of pool name to limit (e.g. deploy/pools.yaml).",
)
@click.option("--dry-run", is_flag=True, help="Print the limits without changing the instance.")
def apply_command(config_file: Path | None, dry_run: bool) -> None:
    """Set each pool's limit on the current Dagster instance (DAGSTER_HOME) from configuration."""
    settings = load_settings()
    try:
        limits, warnings = resolve_limits(settings, config_file)
    except PoolConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    instance = None if dry_run else _instance(settings)
    for item in limits:
        if instance is not None:
            instance.event_log_storage.set_concurrency_slots(item.pool, item.limit)
        click.echo(f"{'would set' if dry_run else 'set'} {item.pool:<24} {item.limit:>4}   ({item.source})")
    if instance is not None:
        instance.dispose()


@pools.command("list")
def list_command() -> None:
    """Each pool on the instance: its limit, slots in use and steps waiting."""
    settings = load_settings()
    instance = _instance(settings)
    try:
        storage = instance.event_log_storage
        default = instance.get_concurrency_config().pool_config.default_pool_limit
        keys = sorted(storage.get_concurrency_keys())
        click.echo(f"{'pool':<24} {'limit':>5} {'in use':>7} {'waiting':>8}")
        for key in keys:
            info = storage.get_concurrency_info(key)
            limit = "-" if info.limit is None else str(info.limit)
            suffix = "  (instance default)" if info.using_default_limit else ""
            click.echo(
                f"{key:<24} {limit:>5} {info.active_slot_count:>7} {info.pending_step_count:>8}{suffix}"
            )
        if not keys:
            click.echo("no pools configured yet: run `cartera pools apply`")
        click.echo(
            f"pools not listed use the instance default limit: {default if default is not None else 'none'}"
        )
    finally:
        instance.dispose()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pools())
