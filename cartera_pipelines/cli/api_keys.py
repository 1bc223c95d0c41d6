"""``cartera api-keys``: issue, revoke and list tenant API keys (warehouse tables ``api_keys``).

The key is printed once, by ``issue``, to the person running it; only its SHA-256 hash and a short
prefix are stored. ``list`` and ``revoke`` work with the prefix and never show a secret.
"""

from __future__ import annotations

import datetime as dt

import click
import sqlalchemy as sa

from cartera_pipelines.settings import load_settings, mask_url


def _engine() -> sa.Engine:
    from cartera_pipelines.resources.database import create_store_engine

    return create_store_engine(load_settings().warehouse_url)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@click.group("api-keys")
def api_keys() -> None:
    """Tenant API keys: issue (shown once), revoke, list."""


@api_keys.command("issue")
@click.option("--nit", required=True, help="Tenant NIT (dots, dashes and check digit allowed).")
@click.option("--client", "client_name", required=True, help="Who the key is for.")
@click.option("--days", default=365, show_default=True, type=click.IntRange(min=1), help="Valid for N days.")
def issue(nit: str, client_name: str, days: int) -> None:
    """Create a key for NIT and print it once."""
    from cartera_pipelines.defs.tns.api_keys import new_key
    from cartera_pipelines.defs.tns.nit import INVALID_CHECK_DIGIT, NitError, parse_nit
    from cartera_pipelines.defs.tns.tables import api_keys as table
    from cartera_pipelines.lib.schema import ensure_schema

    try:
        parsed = parse_nit(nit)
    except NitError as exc:
        raise click.BadParameter(str(exc), param_hint="--nit") from None
    if parsed.status == INVALID_CHECK_DIGIT:
        raise click.BadParameter(
            f"check digit of {nit} should be {parsed.check_digit} (DIAN modulo 11)", param_hint="--nit"
        )
    if not client_name.strip():
        raise click.BadParameter("must not be empty", param_hint="--client")
    key = new_key()
    now = _now()
    expires = now + dt.timedelta(days=days)
    engine = _engine()
    try:
        with engine.begin() as conn:
            ensure_schema(engine)
            conn.execute(
                table.insert().values(
                    prefix=key.prefix,
                    key_hash=key.key_hash,
                    nit=parsed.number,
                    client_name=client_name.strip(),
                    expires_at=expires,
                    active=True,
                    created_at=now,
                )
            )
    finally:
        engine.dispose()
    click.echo(
        f"API key for {client_name.strip()} (NIT {parsed.formatted}), valid until {expires:%Y-%m-%d %H:%M} UTC:"
    )
    click.echo("")
    click.echo(f"    {key.key}")
    click.echo("")
    click.echo(f"Store it now: it is not kept and cannot be shown again. Its prefix is {key.prefix}.")
    click.echo(
        "Run the tns_discover_job (or wait for the nightly discovery) to link it to the NIT's companies."
    )


@api_keys.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Deactivate the key whose prefix is PREFIX (see ``list``) and unlink it at once."""
    from cartera_pipelines.defs.tns.tables import api_key_companies
    from cartera_pipelines.defs.tns.tables import api_keys as table
    from cartera_pipelines.lib.schema import ensure_schema

    engine = _engine()
    try:
        with engine.begin() as conn:
            ensure_schema(engine)
            row = conn.execute(sa.select(table.c.id, table.c.active).where(table.c.prefix == prefix)).first()
            if row is None:
                raise click.ClickException(f"no API key with prefix {prefix!r} (see `cartera api-keys list`)")
            conn.execute(
                table.update()
                .where(table.c.id == row.id)
                .values(active=False, revoked_at=sa.func.coalesce(table.c.revoked_at, _now()))
            )
            conn.execute(api_key_companies.delete().where(api_key_companies.c.api_key_id == row.id))
    finally:
        engine.dispose()
    click.echo(f"revoked {prefix}" + ("" if row.active else " (it was already inactive)"))


@api_keys.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include revoked and expired keys.")
def list_keys(show_all: bool) -> None:
    """Keys by prefix, NIT, client and expiry (never the keys themselves)."""
    from cartera_pipelines.defs.tns.tables import api_keys as table
    from cartera_pipelines.lib.schema import ensure_schema

    engine = _engine()
    try:
        with engine.begin() as conn:
            ensure_schema(engine)
            query = sa.select(
                table.c.prefix, table.c.nit, table.c.client_name, table.c.expires_at, table.c.active
            ).order_by(table.c.created_at)
            if not show_all:
                query = query.where(table.c.active.is_(True))
            rows = conn.execute(query).all()
    finally:
        engine.dispose()
    if not rows:
        click.echo(f"no {'' if show_all else 'active '}API keys in {mask_url(load_settings().warehouse_url)}")
        return
    now = _now().replace(tzinfo=None)
    click.echo(f"{'prefix':<12} {'nit':<12} {'expires (UTC)':<17} {'status':<8} client")
    for r in rows:
        expires = (
            r.expires_at.astimezone(dt.UTC).replace(tzinfo=None) if r.expires_at.tzinfo else r.expires_at
        )
        status = "revoked" if not r.active else ("expired" if expires <= now else "active")
        click.echo(f"{r.prefix:<12} {r.nit:<12} {expires:%Y-%m-%d %H:%M}  {status:<8} {r.client_name}")
