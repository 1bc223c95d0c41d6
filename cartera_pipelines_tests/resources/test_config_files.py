"""The TNS servers file and the pools file are validated as pydantic models: each mistake a person makes
in them is one line naming the file, the entry and the field (``lib/config_files.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.cli.pools import PoolConfigError, load_pools_file
from cartera_pipelines.resources.tns import TnsConfigError, TnsSource, load_servers

GOOD_SERVER = (
    "  - name: bogota\n"
    "    driver: firebird\n"
    "    host: 10.0.0.5\n"
    "    port: 3050\n"
    "    admin_path: /data/tns/ADMIN.GDB\n"
    "    user: SYSDBA\n"
    "    password_env: TNS_BOGOTA_PASSWORD\n"
    "    charset: WIN1252\n"
    "    max_concurrent: 2\n"
)


def _servers(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tns_servers.yaml"
    path.write_text("servers:\n" + text, encoding="utf-8")
    return path


def _one_line(exc: pytest.ExceptionInfo[Exception]) -> str:
    message = str(exc.value)
    assert "\n" not in message, message
    return message


def test_the_documented_servers_file_is_valid(tmp_path: Path) -> None:
    (server,) = load_servers(_servers(tmp_path, GOOD_SERVER), environ={"TNS_BOGOTA_PASSWORD": "x"})
    assert (server.name, server.port, server.max_concurrent, server.pool) == ("bogota", 3050, 2, "tns_bogota")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("    port: 3050\n", "    port: 70000\n"),
            "server 'bogota', field 'port': must be at most 65535, got 70000",
        ),
        (("    port: 3050\n", "    port: 0\n"), "server 'bogota', field 'port': must be at least 1, got 0"),
        (
            ("    port: 3050\n", "    port: '3050'\n"),
            "server 'bogota', field 'port': must be an integer, got '3050'",
        ),
        (
            ("    max_concurrent: 2\n", "    max_concurrent: 0\n"),
            "server 'bogota', field 'max_concurrent': must be at least 1, got 0",
        ),
        (
            ("    charset: WIN1252\n", "    charset: WIN1252\n    pasword_env: X\n"),
            "field 'pasword_env': unknown key",
        ),
        (
            ("    driver: firebird\n", "    driver: interbase\n"),
            "field 'driver': must be one of 'firebird' or 'sqlite'",
        ),
        (("    admin_path: /data/tns/ADMIN.GDB\n", ""), "server 'bogota', field 'admin_path': is required"),
        (("  - name: bogota\n", "  - name: ''\n"), "server #1, field 'name': must not be empty"),
    ],
)
def test_each_mistake_is_one_line_naming_file_entry_and_field(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    path = _servers(tmp_path, GOOD_SERVER.replace(*change))
    with pytest.raises(TnsConfigError) as exc:
        load_servers(path)
    message = _one_line(exc)
    assert message.startswith(f"{path}: ") and expected in message, message


def test_a_password_variable_that_is_not_set_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _servers(tmp_path, GOOD_SERVER)
    monkeypatch.delenv("TNS_BOGOTA_PASSWORD", raising=False)
    with pytest.raises(TnsConfigError) as exc:
        TnsSource(servers_file=str(path)).servers()
    assert _one_line(exc) == (
        f"{path}: server 'bogota', field 'password_env': variable TNS_BOGOTA_PASSWORD is not set"
    )
    monkeypatch.setenv("TNS_BOGOTA_PASSWORD", "s3cret")
    assert [s.name for s in TnsSource(servers_file=str(path)).servers()] == ["bogota"]


def test_several_mistakes_stay_on_one_line(tmp_path: Path) -> None:
    second = GOOD_SERVER.replace("bogota", "cali").replace("port: 3050", "port: -1")
    path = _servers(tmp_path, GOOD_SERVER.replace("max_concurrent: 2", "max_concurrent: 0") + second)
    with pytest.raises(TnsConfigError) as exc:
        load_servers(path)
    message = _one_line(exc)
    assert "server 'bogota', field 'max_concurrent'" in message and "server 'cali', field 'port'" in message


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = tmp_path / "tns_servers.yaml"
    path.write_text("servers: []\nserver: []\n")
    with pytest.raises(TnsConfigError, match="unknown top-level key 'server'"):
        load_servers(path)


@given(port=st.integers(min_value=-(10**6), max_value=10**6))
def test_ports_are_accepted_exactly_in_range(tmp_path_factory: pytest.TempPathFactory, port: int) -> None:
    path = _servers(tmp_path_factory.mktemp("p"), GOOD_SERVER.replace("port: 3050", f"port: {port}"))
    if 1 <= port <= 65535:
        assert load_servers(path)[0].port == port
    else:
        with pytest.raises(TnsConfigError, match="field 'port'"):
            load_servers(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pools:\n  lending_db: 0\n", "pool 'lending_db', field 'limit': must be at least 1, got 0"),
        ("pools:\n  lending_db: 5000\n", "pool 'lending_db', field 'limit': must be at most 1000, got 5000"),
        ("pools:\n  lending_db: two\n", "pool 'lending_db', field 'limit': must be an integer, got 'two'"),
        ("pools:\n  lending_db: 2\nlimits: {}\n", "unknown top-level key 'limits'"),
        ("pools: [lending_db]\n", "top-level 'pools' must be a mapping"),
        ("pool:\n  lending_db: 2\n", "unknown top-level key 'pool'"),
    ],
)
def test_pools_file_mistakes(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text(text)
    with pytest.raises(PoolConfigError) as exc:
        load_pools_file(path)
    message = _one_line(exc)
    assert message.startswith(f"{path}: ") and expected in message, message
