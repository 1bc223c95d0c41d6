"""TNS ERP databases: Firebird servers in production, SQLite files in the sandbox. Always read-only.

The servers are listed in a YAML file (``CARTERA_TNS_SERVERS``)::

    servers:
      - name: bogota                 # unique; also names the server's Dagster pool (tns_<name>)
        driver: firebird             # firebird | sqlite
        host: 10.0.0.5
        port: 3050
        admin_path: /data/tns/ADMIN.GDB
        user: SYSDBA
        password_env: TNS_BOGOTA_PASSWORD   # the password itself never appears in the file
        charset: WIN1252
        max_concurrent: 2            # concurrent extractions this server tolerates

For ``driver: sqlite`` the paths are files on this machine (relative paths are relative to the YAML
file); host, port, user and password are ignored.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cartera_pipelines.lib.config_files import TnsServerConfig, TnsServersFile, load_config_file
from cartera_pipelines.resources.base import FromSettings
from cartera_pipelines.settings import secret_from_env


def snapshot_read_only() -> bytes:
    """The transaction every TNS read runs in: read-only (the server refuses any write) and SNAPSHOT
    (``isc_tpb_concurrency``), so a long read sees the database as it was when the read began, never half
    of a document posted or voided meanwhile. Readers take no locks in Firebird: nobody waits on us."""
    import fdb  # imported lazily: needs libfbclient, only where Firebird is configured

    return fdb.bs([fdb.isc_tpb_version3, fdb.isc_tpb_read, fdb.isc_tpb_wait, fdb.isc_tpb_concurrency])


class TnsConfigError(ValueError):
    """The servers file is missing or malformed (one line naming the file, the server and the field)."""


class TnsServer(TnsServerConfig):
    """A validated entry of the servers file (fields: ``lib/config_files.TnsServerConfig``)."""

    @property
    def pool(self) -> str:
        """Name of the Dagster concurrency pool that limits extractions on this server."""
        return f"tns_{self.name}"

    def dsn(self, path: str) -> str:
        return f"{self.host}/{self.port}:{path}"

    def describe(self) -> str:
        if self.driver == "sqlite":
            return f"{self.name} (sqlite {self.admin_path})"
        return f"{self.name} (firebird {self.host}:{self.port}:{self.admin_path})"


class _ServersFile(TnsServersFile):
    servers: list[TnsServer]


def load_servers(path: Path, environ: Mapping[str, str] | None = None) -> list[TnsServer]:
    """The servers of the file ``path``. With ``environ``, each ``password_env`` must be set there."""
    parsed = load_config_file(
        path,
        _ServersFile,
        what="TNS servers file",
        error=TnsConfigError,
        hint=" (set CARTERA_TNS_SERVERS)",
        environ=environ,
    )
    return [
        server.model_copy(update={"admin_path": str((path.parent / server.admin_path).resolve())})
        if server.driver == "sqlite" and not Path(server.admin_path).is_absolute()
        else server
        for server in parsed.servers
    ]


class TnsSource(FromSettings):
    """Read-only access to the TNS ADMIN and company-year databases of every configured server."""

    servers_file: str

    def servers(self) -> list[TnsServer]:
        """Every configured server; a ``password_env`` variable that is not set fails here, naming it."""
        return load_servers(Path(self.servers_file), environ=os.environ)

    def server(self, name: str) -> TnsServer:
        for server in self.servers():
            if server.name == name:
                return server
        raise TnsConfigError(f"no TNS server named {name!r} in {self.servers_file}")

    def company_path(self, server: TnsServer, archivo: str) -> str:
        """Where a company-year database lives, from the ADMIN's ``EMPRESAS.ARCHIVO``."""
        if server.driver == "sqlite" and not Path(archivo).is_absolute():
            return str(Path(server.admin_path).parent / archivo)
        return archivo

    def reachable(self, server: TnsServer, timeout: float = 3.0) -> bool:
        """A cheap probe (TCP connect, or the ADMIN file exists) before a real connection, which for
        Firebird may hang for a long time on an unreachable host."""
        if server.driver == "sqlite":
            return Path(server.admin_path).exists()
        try:
            with socket.create_connection((server.host, server.port), timeout=timeout):
                return True
        except OSError:
            return False

    def empresas(self, server: TnsServer) -> list[tuple[Any, ...]]:
        """``EMPRESAS`` rows with a NIT: (CODIGO, NOMBRE, NIT, ANOFIS, ARCHIVO)."""
        with self.connect(server) as conn:
            cursor = conn.cursor()
            try:
                cursor.execute(
                    "SELECT CODIGO, NOMBRE, NIT, ANOFIS, ARCHIVO FROM EMPRESAS WHERE NIT IS NOT NULL"
                )
                return [tuple(row) for row in cursor.fetchall()]
            finally:
                cursor.close()

    @contextmanager
    def connect(self, server: TnsServer, path: str | None = None) -> Iterator[Any]:
        """A read-only DB-API connection (qmark parameters) to the ADMIN database or to ``path``; on
        Firebird its transaction is a read-only snapshot (:func:`snapshot_read_only`)."""
        target = path or server.admin_path
        if server.driver == "sqlite":
            if not Path(target).exists():
                raise FileNotFoundError(f"TNS database {target} does not exist (server {server.name})")
            conn: Any = sqlite3.connect(f"file:{target}?mode=ro", uri=True, check_same_thread=False)
        else:
            import fdb  # imported lazily: needs libfbclient, only where Firebird is configured

            password = secret_from_env(server.password_env) if server.password_env else ""
            conn = fdb.connect(
                dsn=server.dsn(target),
                user=server.user,
                password=password,
                charset=server.charset,
                isolation_level=snapshot_read_only(),
            )
        try:
            yield conn
        finally:
            if server.driver == "firebird":
                conn.rollback()  # read-only: nothing of ours is ever committed on a TNS server
            conn.close()
