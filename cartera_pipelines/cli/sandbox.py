"""``cartera sandbox``: build the embedded demo stores, serve the Contifico simulator."""

from __future__ import annotations

import click

from cartera_pipelines.settings import SANDBOX_CONTIFICO_PORT, load_settings


@click.group()
def sandbox() -> None:
    """The built-in sandbox: demo data and the local Contifico API simulator."""


@sandbox.command("build")
@click.option("--scale", default=1, show_default=True, type=int, help="Volume multiplier (benchmarks use 100+).")
@click.option("--seed", default=42, show_default=True, type=int, help="Random seed: same seed, same data.")
@click.option("--family", "families", multiple=True, help="Only these families (default: all).")
def build(scale: int, seed: int, families: tuple[str, ...]) -> None:
    """Create the embedded stores under CARTERA_HOME with deterministic demo data."""
    from cartera_pipelines.sandbox.build import BUILDERS, build_sandbox
    from cartera_pipelines.sandbox.targets import targets_from_settings

    settings = load_settings()
    targets = targets_from_settings(settings)
    built = build_sandbox(targets, scale=scale, seed=seed, families=families or BUILDERS, log=click.echo)
    click.echo(f"sandbox ready in {settings.home}: {sum(b.rows for b in built):,} rows in {len(built)} tables")


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=SANDBOX_CONTIFICO_PORT, show_default=True, type=int)
@click.option("--scale", default=1, show_default=True, type=int)
@click.option("--seed", default=42, show_default=True, type=int)
def serve(host: str, port: int, scale: int, seed: int) -> None:
    """Serve the Contifico API simulator on HOST:PORT until interrupted."""
    from cartera_pipelines.sandbox.contifico_simulator import serve_forever

    settings = load_settings()
    serve_forever(host=host, port=port, home=settings.home, scale=scale, seed=seed, log=click.echo)
