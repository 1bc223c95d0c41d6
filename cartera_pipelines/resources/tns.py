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

import socket
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from cartera_pipelines.lib.config_files import read_yaml_section
from cartera_pipelines.settings import secret_from_env


def snapshot_read_only() -> bytes:
    """The transaction every TNS read runs in: read-only (the server refuses any write) and SNAPSHOT
    (``isc_tpb_concurrency``), so a long read sees the database as it was when the read began, never half
    of a document posted or voided meanwhile. Readers take no locks in Firebird: nobody waits on us."""
    import fdb  # imported lazily: needs libfbclient, only where Firebird is configured

    return fdb.bs([fdb.isc_tpb_version3, fdb.isc_tpb_read, fdb.isc_tpb_wait, fdb.isc_tpb_concurrency])


class TnsConfigError(ValueError):
    """The servers file is missing or malformed."""


@dataclass(frozen=True)
class TnsServer:
    name: str
    driver: str
    admin_path: str
    host: str = "127.0.0.1"
    port: int = 3050
    user: str = "SYSDBA"
    password_env: str | None = None
    charset: str = "WIN1252"
    max_concurrent: int = 2

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


def load_servers(path: Path) -> list[TnsServer]:
    entries = read_yaml_section(
        path, "servers", list, TnsConfigError, "TNS servers file", hint=" (set CARTERA_TNS_SERVERS)"
    )
    servers: list[TnsServer] = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("admin_path"):
            raise TnsConfigError(f"{path}: server #{i + 1} needs at least 'name' and 'admin_path'")
        driver = str(entry.get("driver", "firebird"))
        if driver not in ("firebird", "sqlite"):
            raise TnsConfigError(f"{path}: server {entry['name']!r} has unknown driver {driver!r}")
        admin_path = str(entry["admin_path"])
        if driver == "sqlite" and not Path(admin_path).is_absolute():
            admin_path = str((path.parent / admin_path).resolve())
        known = {f for f in TnsServer.__dataclass_fields__}
        unknown = set(entry) - known
        if unknown:
            raise TnsConfigError(f"{path}: server {entry['name']!r} has unknown keys {sorted(unknown)}")
        servers.append(TnsServer(**{**entry, "driver": driver, "admin_path": admin_path}))
    names = [s.name for s in servers]
    if len(names) != len(set(names)):
        raise TnsConfigError(f"{path}: server names must be unique, got {names}")
    return servers


class TnsSource(dg.ConfigurableResource):
    """Read-only access to the TNS ADMIN and company-year databases of every configured server."""

    servers_file: str

    def servers(self) -> list[TnsServer]:
        return load_servers(Path(self.servers_file))

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
