"""TnsSource: the servers file, and read-only connections to SQLite files and a real Firebird 3 server."""

import sqlite3
from pathlib import Path

import pytest

from cartera_pipelines.resources.tns import TnsConfigError, TnsSource
from cartera_pipelines_tests.engines import FirebirdServer


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_servers_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(TnsConfigError, match="does not exist"):
        TnsSource(servers_file=str(tmp_path / "missing.yaml")).servers()
    bad = _write(tmp_path / "bad.yaml", "servers: {name: x}")
    with pytest.raises(TnsConfigError, match="top-level 'servers' must be a list"):
        TnsSource(servers_file=str(bad)).servers()
    unknown = _write(tmp_path / "unknown.yaml", "servers:\n  - {name: a, admin_path: x.db, passwrd: oops}\n")
    with pytest.raises(TnsConfigError, match="server 'a', field 'passwrd': unknown key"):
        TnsSource(servers_file=str(unknown)).servers()
    dup = _write(
        tmp_path / "dup.yaml", "servers:\n  - {name: a, admin_path: x}\n  - {name: a, admin_path: y}\n"
    )
    with pytest.raises(TnsConfigError, match="unique; repeated: a"):
        TnsSource(servers_file=str(dup)).servers()


def test_sqlite_server_is_read_only(tmp_path: Path) -> None:
    admin = tmp_path / "ADMIN.db"
    with sqlite3.connect(admin) as conn:
        conn.execute("CREATE TABLE EMPRESAS (CODIGO TEXT, NIT TEXT)")
        conn.execute("INSERT INTO EMPRESAS VALUES ('01', '900123456')")
    servers = _write(
        tmp_path / "servers.yaml", "servers:\n  - {name: local, driver: sqlite, admin_path: ADMIN.db}\n"
    )
    source = TnsSource(servers_file=str(servers))
    (server,) = source.servers()
    assert server.admin_path == str(admin) and server.pool == "tns_local"
    with source.connect(server) as conn:
        assert conn.execute("SELECT NIT FROM EMPRESAS").fetchall() == [("900123456",)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM EMPRESAS")


def test_firebird_server_through_fdb(
    tmp_path: Path, firebird: FirebirdServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = firebird.create_database("cartera_t_admin_probe")
    try:
        cursor = conn.cursor()
        cursor.execute("CREATE TABLE EMPRESAS (CODIGO VARCHAR(4), NOMBRE VARCHAR(60) CHARACTER SET WIN1252)")
        conn.commit()
        cursor.execute("INSERT INTO EMPRESAS VALUES (?, ?)", ("01", "Compañía Andina de Señales"))
        conn.commit()
        path = firebird.path("cartera_t_admin_probe")
        monkeypatch.setenv("TNS_PROBE_PASSWORD", firebird.password)
        servers = _write(
            tmp_path / "servers.yaml",
            "servers:\n"
            f"  - {{name: fb, driver: firebird, host: {firebird.host}, port: {firebird.port},"
            f" admin_path: '{path}', user: {firebird.user}, password_env: TNS_PROBE_PASSWORD, charset: WIN1252}}\n",
        )
        source = TnsSource(servers_file=str(servers))
        (server,) = source.servers()
        with source.connect(server) as fb:
            cur = fb.cursor()
            cur.execute("SELECT CODIGO, NOMBRE FROM EMPRESAS")
            assert cur.fetchall() == [("01", "Compañía Andina de Señales")]
            with pytest.raises(Exception, match="read-only|read only"):
                cur.execute("DELETE FROM EMPRESAS")
    finally:
        conn.drop_database()
