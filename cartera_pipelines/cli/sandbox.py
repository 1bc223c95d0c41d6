"""``cartera sandbox``: build the embedded demo stores, serve the Contifico simulator."""

from __future__ import annotations

import click

from cartera_pipelines.sandbox.defaults import CONTIFICO_PORT, WEBHOOK_PORT
from cartera_pipelines.settings import load_settings


@click.group()
def sandbox() -> None:
    """The built-in sandbox: demo data and the local Contifico API simulator."""


@sandbox.command("build")
@click.option(
    "--scale", default=1, show_default=True, type=int, help="Volume multiplier (benchmarks use 100+)."
)
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed: same seed, same data.")
@click.option("--family", "families", multiple=True, help="Only these families (default: all).")
def build(scale: int, seed: int, families: tuple[str, ...]) -> None:
    """Create the embedded stores under CARTERA_HOME with deterministic demo data."""
    from cartera_pipelines.sandbox.build import BUILDERS, build_sandbox
    from cartera_pipelines.sandbox.targets import targets_from_settings

    settings = load_settings()
    targets = targets_from_settings(settings)
    built = build_sandbox(targets, scale=scale, seed=seed, families=families or BUILDERS, log=click.echo)
    click.echo(
        f"sandbox ready in {settings.home}: {sum(b.rows for b in built):,} rows in {len(built)} tables"
    )


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=CONTIFICO_PORT, show_default=True, type=int)
@click.option("--scale", default=1, show_default=True, type=int)
@click.option("--seed", default=42, show_default=True, type=int)
@click.option(
    "--webhook-port",
    default=WEBHOOK_PORT,
    show_default=True,
    type=int,
    help="Port of the sandbox webhook receiver for the factoring outbox (0: do not start it).",
)
def serve(host: str, port: int, scale: int, seed: int, webhook_port: int) -> None:
    """Serve the Contifico API simulator on HOST:PORT (and the outbox webhook receiver) until interrupted."""
    from contextlib import ExitStack

    from cartera_pipelines.sandbox.contifico_simulator import serve_forever
    from cartera_pipelines.sandbox.factoring import WebhookReceiver

    settings = load_settings()
    if settings.production:
        raise click.ClickException(
            "the sandbox simulator and webhook receiver do not run in production mode (CARTERA_ENV=production)"
        )
    with ExitStack() as stack:
        if webhook_port and settings.is_default("CARTERA_WEBHOOK_URLS"):
            try:
                receiver = stack.enter_context(WebhookReceiver(settings.webhook_secret, port=webhook_port))
            except OSError as exc:
                click.echo(f"webhook receiver not started on port {webhook_port}: {exc.strerror}")
            else:
                click.echo(f"webhook receiver on {receiver.url}")
        serve_forever(host=host, port=port, home=settings.home, scale=scale, seed=seed, log=click.echo)
