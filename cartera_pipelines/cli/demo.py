"""``cartera demo``: build the sandbox, start the simulator, materialize everything, serve the UI."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click

from cartera_pipelines.cli import local_runs
from cartera_pipelines.sandbox.defaults import CONTIFICO_PORT as SANDBOX_CONTIFICO_PORT
from cartera_pipelines.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[2]


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _port_open(port):
            return True
        time.sleep(0.2)
    return False


def materialize_everything(log: Callable[[str], None]) -> list[tuple[str, str, str]]:
    """Materialize every asset on the Dagster instance (DAGSTER_HOME), in dependency order.

    Unpartitioned assets first (one run), then each partitioned set for every partition it has
    (dynamic partitions are registered by the discovery assets of the first pass).
    """
    import dagster as dg

    from cartera_pipelines.definitions import defs as load_defs

    definitions = load_defs()
    instance = dg.DagsterInstance.get()
    graph = definitions.resolve_asset_graph()
    materializable = [k for k in graph.toposorted_asset_keys if graph.get(k).is_materializable]
    # checks too: blocking checks must be able to stop their downstream assets, as in a real run
    all_assets = [*(definitions.assets or []), *(definitions.asset_checks or [])]
    resources = definitions.resources or {}
    results: list[tuple[str, str, str]] = []
    """(what ran, its status, run id)"""

    def run(keys: list[dg.AssetKey], partition_key: str | None, label: str) -> None:
        started = time.perf_counter()
        result = dg.materialize(
            all_assets,
            selection=keys,
            instance=instance,
            resources=resources,
            partition_key=partition_key,
            raise_on_error=False,
            tags={"cartera/demo": "true"},
        )
        blocked = sorted(
            {
                f"{e.asset_key.to_user_string()}:{e.check_name}"
                for e in result.get_asset_check_evaluations()
                if not e.passed and e.blocking
            }
        )
        if result.success:
            status = "ok"
        elif blocked:
            status = f"stopped by blocking check {', '.join(blocked)} (downstream assets not published)"
        else:
            status = "FAILED"
        log(f"  {label}: {status} in {time.perf_counter() - started:.1f}s")
        results.append((label, status, result.run_id))

    unpartitioned = [k for k in materializable if graph.get(k).partitions_def is None]
    if unpartitioned:
        log(f"materializing {len(unpartitioned)} unpartitioned assets")
        run(unpartitioned, None, "unpartitioned assets")
    by_partitions: dict[object, list[dg.AssetKey]] = {}
    for key in materializable:
        partitions_def = graph.get(key).partitions_def
        if partitions_def is not None:
            by_partitions.setdefault(partitions_def, []).append(key)
    for partitions_def, keys in by_partitions.items():
        if isinstance(partitions_def, dg.TimeWindowPartitionsDefinition):
            # daily history is for backfills; the demo shows today's (the latest) day
            partition_keys = [*sandbox_days(partitions_def), partitions_def.get_last_partition_key()]
        else:
            partition_keys = partitions_def.get_partition_keys(dynamic_partitions_store=instance)
        names = ", ".join(k.to_user_string() for k in keys)
        log(f"materializing {names} for {len(partition_keys)} partitions")
        for partition_key in partition_keys:
            run(keys, partition_key, f"{names} [{partition_key}]")
    log("")
    log(summary(instance, materializable))
    return results


def sandbox_days(partitions_def: object) -> list[str]:
    """Days the sandbox's data is about, besides today: its Contifico history ends on a fixed day, so the
    inventory analytics of today alone would show empty 30/90-day sales windows."""
    from cartera_pipelines.defs.contifico.analytics.partitions import ecuador_days
    from cartera_pipelines.sandbox.contifico import ANCHOR

    return [ANCHOR.isoformat()] if partitions_def == ecuador_days else []


def summary(instance: object, keys: list) -> str:
    """One line per asset: its group-less key, the partitions materialized and the rows it reported."""
    lines = [f"{'asset':<44} {'partitions':>10} {'rows':>12}"]
    for key in keys:
        records = instance.fetch_materializations(key, limit=1000).records  # type: ignore[attr-defined]
        latest: dict[str | None, int | None] = {}
        for record in records:  # newest first: keep the latest per partition
            mat = record.asset_materialization
            if mat is not None and mat.partition not in latest:
                value = mat.metadata.get("dagster/row_count")
                latest[mat.partition] = int(value.value) if value is not None else None
        known = [rows for rows in latest.values() if rows is not None]
        parts = len([p for p in latest if p is not None])
        rows = f"{sum(known):,}" if known else "-"
        lines.append(f"{key.to_user_string():<44} {parts or '':>10} {rows:>12}")
    return "\n".join(lines)


def _start_simulator(settings: Settings, cartera: list[str]) -> subprocess.Popen[bytes] | None:
    """The Contifico simulator and webhook receiver, unless they already run or real URLs are set."""
    if not settings.is_default("CONTIFICO_API_BASE_URL") or _port_open(SANDBOX_CONTIFICO_PORT):
        return None
    log_file = open(settings.home / "contifico_simulator.log", "ab")
    child = subprocess.Popen(
        [*cartera, "sandbox", "serve"], stdout=log_file, stderr=log_file, start_new_session=True
    )
    if not _wait_port(SANDBOX_CONTIFICO_PORT, 30):
        child.kill()
        raise click.ClickException("the Contifico simulator did not start; see contifico_simulator.log")
    click.echo(f"Contifico simulator on 127.0.0.1:{SANDBOX_CONTIFICO_PORT}")
    return child


def _report(results: list[tuple[str, str, str]], settings: Settings) -> None:
    failed = [label for label, status, _ in results if status == "FAILED"]
    blocked = [label for label, status, _ in results if status.startswith("stopped by")]
    ok = len(results) - len(failed) - len(blocked)
    click.echo("")
    click.echo(
        f"{ok} of {len(results)} runs succeeded"
        + (f"; {len(blocked)} stopped by a blocking check (see above)" if blocked else "")
        + (f"; failed: {', '.join(failed)}" if failed else "")
    )
    click.echo(
        f"stores:  {settings.home}/*.db   reports: {settings.reports_dir}   models: {settings.models_dir}"
    )


def _serve_ui(port: int) -> subprocess.Popen[bytes]:
    """``dg dev`` (webserver, daemon, code server) in its own session, so a Ctrl-C in the terminal reaches
    only us: we stop the runs in progress first, then the UI."""
    click.echo(f"Dagster UI on http://127.0.0.1:{port} (Ctrl-C to stop)")
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "VIRTUAL_ENV": str(Path(sys.executable).parent.parent)},  # dg checks it is ours
        start_new_session=True,
    )


def _stop(child: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    """SIGINT to the child's session (it leads one), SIGKILL after ``grace`` seconds."""
    if child.poll() is not None:
        return
    try:
        os.killpg(child.pid, signal.SIGINT)
        child.wait(timeout=grace)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=10)


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


@click.command()
@click.option("--rebuild", is_flag=True, help="Rebuild the sandbox even if it exists.")
@click.option("--no-materialize", is_flag=True, help="Skip materializing; only serve the UI.")
@click.option("--no-ui", is_flag=True, help="Stop after materializing (no UI).")
@click.option("--port", default=3000, show_default=True, type=int, help="Port of the Dagster UI.")
def demo(rebuild: bool, no_materialize: bool, no_ui: bool, port: int) -> None:
    """Everything on the embedded default, then the Dagster UI (``dg dev``) on 127.0.0.1:PORT until Ctrl-C.

    Before anything, runs a previous UI left in progress with a dead worker are marked failed and their
    pool slots freed; on Ctrl-C the runs in progress are stopped before the UI.
    """
    import dagster as dg

    settings = load_settings()
    os.environ.setdefault("DAGSTER_HOME", str(settings.dagster_home))
    dagster_home = Path(os.environ["DAGSTER_HOME"])
    dagster_home.mkdir(parents=True, exist_ok=True)
    if not (dagster_home / "dagster.yaml").exists():
        shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    signal.signal(signal.SIGTERM, _interrupt)
    cartera = [sys.executable, "-m", "cartera_pipelines.cli"]
    children: list[subprocess.Popen[bytes]] = []
    instance = dg.DagsterInstance.get()
    try:
        local_runs.reap_orphans(instance, click.echo)
        if rebuild or not (settings.home / "operations.db").exists():
            click.echo("building the sandbox …")
            subprocess.run([*cartera, "sandbox", "build"], check=True)
        simulator = _start_simulator(settings, cartera)
        children += [simulator] if simulator else []
        if not no_materialize:
            _report(materialize_everything(click.echo), settings)
        if no_ui:
            return
        ui = _serve_ui(port)
        children.append(ui)
        ui.wait()
    except KeyboardInterrupt:
        click.echo("\nstopping …")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the clean-up short
        local_runs.stop_runs(instance, click.echo)
        for child in reversed(children):
            _stop(child)
        instance.dispose()
