"""The TNS resource: connections are read-only on both drivers; unreachable servers are detected cheaply."""

from __future__ import annotations

import time

import pytest

from cartera_pipelines.resources.tns import TnsServer, TnsSource

from .conftest import TnsSandbox


def test_tns_connections_refuse_writes(tns_sandbox: TnsSandbox) -> None:
    source = tns_sandbox.source()
    server = source.servers()[0]
    with source.connect(server) as conn:
        cursor = conn.cursor()
        with pytest.raises(Exception, match="(?i)read.?only|readonly"):
            cursor.execute("UPDATE EMPRESAS SET NOMBRE = 'x'")
    assert all(row[1] != "x" for row in source.empresas(server))


def test_unreachable_firebird_server_is_detected_quickly(tmp_path) -> None:
    source = TnsSource(servers_file=str(tmp_path / "none.yaml"))
    server = TnsServer(name="down", driver="firebird", admin_path="/x.fdb", host="127.0.0.1", port=1)
    started = time.monotonic()
    assert not source.reachable(server, timeout=1.0)
    assert time.monotonic() - started < 5
