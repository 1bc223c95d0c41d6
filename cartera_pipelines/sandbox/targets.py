"""Where a sandbox build writes: the three SQL stores, the TNS databases and the Contifico data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cartera_pipelines.settings import Settings, SettingsError


@dataclass(frozen=True)
class TnsTarget:
    """TNS demo databases: SQLite files in ``directory``, or databases on a real Firebird server.

    For Firebird, ``directory`` is a path on the server's machine where it may create files, and the
    password is given here (to create the databases) and named by ``password_env`` in the servers file.
    """

    driver: str = "sqlite"
    directory: str = ""
    host: str = "127.0.0.1"
    port: int = 3050
    user: str = "SYSDBA"
    password: str = ""
    password_env: str = "TNS_SANDBOX_PASSWORD"
    charset: str = "WIN1252"
    servers: tuple[str, ...] = ("principal", "sucursal")
    """Server names to spread the demo companies over (the second one holds a duplicate company-year)."""


@dataclass(frozen=True)
class SandboxTargets:
    home: Path
    lending_url: str
    operations_url: str
    warehouse_url: str
    tns_servers_file: Path
    tns: TnsTarget = field(default_factory=TnsTarget)

    @property
    def contifico_data_file(self) -> Path:
        """The simulator's records (written by the contifico builder, served by ``sandbox serve``)."""
        return self.home / "contifico" / "records.sqlite"


def targets_from_settings(settings: Settings) -> SandboxTargets:
    """The embedded default stores (what ``cartera sandbox build`` fills). Refused in production mode: a
    sandbox build drops and recreates tables in the stores the settings name."""
    if settings.production:
        raise SettingsError(
            "the sandbox is never built in production mode (CARTERA_ENV=production): it would drop and "
            "recreate tables in the configured stores"
        )
    return SandboxTargets(
        home=settings.home,
        lending_url=settings.lending_url,
        operations_url=settings.operations_url,
        warehouse_url=settings.warehouse_url,
        tns_servers_file=settings.tns_servers_file,
        tns=TnsTarget(driver="sqlite", directory=str(settings.home / "tns")),
    )
