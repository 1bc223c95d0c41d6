"""The contifico sandbox: deterministic records and the simulator's HTTP semantics."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cartera_pipelines.sandbox.contifico import ANCHOR, counts_for_scale, counts_for_total, write_data_file
from cartera_pipelines.sandbox.contifico_simulator import SimulatorServer, make_server
from cartera_pipelines.sandbox.defaults import CONTIFICO_API_KEY as SANDBOX_CONTIFICO_API_KEY
from cartera_pipelines.sandbox.targets import SandboxTargets

KEY = {"Authorization": SANDBOX_CONTIFICO_API_KEY}


def _digest(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT coll, seq, body FROM records ORDER BY coll, seq").fetchall()
    finally:
        conn.close()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_builder_is_deterministic_and_modest(tmp_path: Path) -> None:
    from cartera_pipelines.sandbox.contifico import build

    targets = SandboxTargets(
        home=tmp_path / "a",
        lending_url="",
        operations_url="",
        warehouse_url="",
        tns_servers_file=tmp_path / "t.yaml",
    )
    counts = build(targets, scale=1, seed=42)
    assert 2_000 <= sum(counts.values()) <= 3_500
    again = tmp_path / "b.sqlite"
    write_data_file(again, scale=1, seed=42)
    assert _digest(targets.contifico_data_file) == _digest(again)
    other = tmp_path / "c.sqlite"
    write_data_file(other, scale=1, seed=43)
    assert _digest(other) != _digest(again)


def test_volumes() -> None:
    assert sum(counts_for_total(200_000).values()) == 200_000
    assert counts_for_scale(4)["products"] == 4 * counts_for_scale(1)["products"]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SimulatorServer]:
    srv = make_server("127.0.0.1", 0, data_file=tmp_path / "records.sqlite", seed=42)
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def get(
    server: SimulatorServer, path: str, headers: dict[str, str] | None = None, **params: object
) -> httpx.Response:
    return httpx.get(server.base_url + path, params=params, headers=KEY if headers is None else headers)


def test_key_is_checked(server: SimulatorServer) -> None:
    for headers in ({}, {"Authorization": "otra"}):
        response = get(server, "v1/producto/", headers=headers)
        assert response.status_code == 401 and "detail" in response.json()


def test_v1_shape_and_paging(server: SimulatorServer) -> None:
    first = get(server, "v1/producto/", result_page=1, result_size=120).json()
    assert isinstance(first, list) and len(first) == 120
    record = first[0]
    assert len(record["id"]) == 16 and isinstance(record["pvp1"], str)
    dt.datetime.strptime(record["fecha_modificacion"], "%d/%m/%Y")
    assert len(get(server, "v1/producto/", result_page=3, result_size=120).json()) == 60
    assert get(server, "v1/producto/", result_page=4, result_size=120).json() == []
    assert len(get(server, "v1/producto/", result_page=1, result_size=5000).json()) == 300  # capped at 1000


def test_v2_shape_paging_and_out_of_range(server: SimulatorServer) -> None:
    body = get(server, "v2/registro/documento/", page=2, page_size=100).json()
    assert set(body) == {"count", "next", "previous", "results"} and body["count"] == 600
    assert "page=3" in body["next"] and "page=1" in body["previous"]
    last = get(server, "v2/registro/documento/", page=6, page_size=100).json()
    assert last["next"] is None and len(last["results"]) == 100
    beyond = get(server, "v2/registro/documento/", page=7, page_size=100)
    assert beyond.status_code == 400 and beyond.json() == {"code": "400", "error": "Pagina fuera del rango"}


def test_documents_page_only_with_result_page_as_the_real_api_does(server: SimulatorServer) -> None:
    ignored = get(server, "v2/documento/", page=2, page_size=100).json()
    assert ignored["count"] == 450 and len(ignored["results"]) == 450 and ignored["next"] is None
    paged = get(server, "v2/documento/", result_page=2, result_size=100).json()
    assert len(paged["results"]) == 100 and "result_page=3" in paged["next"]
    assert get(server, "v2/documento/", result_page=6, result_size=100).status_code == 400


def test_filters(server: SimulatorServer) -> None:
    all_docs = get(server, "v2/registro/documento/", page_size=1000).json()["results"]
    pro = get(server, "v2/registro/documento/", page_size=1000, tipo_registro="PRO").json()["results"]
    assert pro and all(r["tipo_registro"] == "PRO" for r in pro) and len(pro) < len(all_docs)
    fac = get(server, "v2/documento/", page_size=1000, tipo="FAC").json()["results"]
    assert fac and all(r["tipo_documento"] == "FAC" for r in fac)
    window = get(
        server, "v2/documento/", page_size=1000, fecha_inicial="01/03/2025", fecha_final="31/03/2025"
    ).json()
    days = {dt.datetime.strptime(r["fecha_emision"], "%d/%m/%Y").date() for r in window["results"]}
    assert days and min(days) >= dt.date(2025, 3, 1) and max(days) <= dt.date(2025, 3, 31)
    recent = get(server, "v1/producto/", result_size=1000, fecha_modificacion="01/12/2025").json()
    assert all(
        dt.datetime.strptime(r["fecha_modificacion"], "%d/%m/%Y").date() >= dt.date(2025, 12, 1)
        for r in recent
    )
    assert 0 < len(recent) < 300
    iso = get(server, "v2/documento/", page_size=1000, fecha_inicial="2025-03-01", fecha_final="2025-03-31")
    assert iso.json()["count"] == window["count"]  # the real API also takes ISO dates
    bad = get(server, "v2/documento/", fecha_inicial="1 de marzo de 2025")
    assert bad.status_code == 400 and "mensaje" in bad.json()


def test_mutations_change_delete_and_add(server: SimulatorServer) -> None:
    today = dt.date(2026, 1, 15)
    touched = server.sim.mutate(
        changed=0.1, deleted=0.05, added=0.02, seed=9, paths=["v1/producto/"], today=today
    )
    report = touched["v1/producto/"]
    assert (len(report["changed"]), len(report["deleted"]), len(report["added"])) == (30, 15, 6)
    since = get(server, "v1/producto/", result_size=1000, fecha_modificacion="15/01/2026").json()
    assert {r["id"] for r in since} == set(report["changed"]) | set(report["added"])
    assert today > ANCHOR
    every = {r["id"] for r in get(server, "v1/producto/", result_size=1000).json()}
    assert len(every) == 300 - 15 + 6 and not every & set(report["deleted"])


def test_faults_by_http_configuration(server: SimulatorServer) -> None:
    config = {"rate": 1.0, "kinds": ["429"], "retry_after": "2", "seed": 1}
    assert httpx.post(server.base_url + "_sim/faults", json=config, headers=KEY).status_code == 200
    limited = get(server, "v1/marca/")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    scripted = {"scripted": [{"kind": "malformed", "path": "marca", "page": 1, "times": 1}]}
    httpx.post(server.base_url + "_sim/faults", json=scripted, headers=KEY)
    with pytest.raises(json.JSONDecodeError):
        get(server, "v1/marca/").json()
    assert isinstance(get(server, "v1/marca/").json(), list)  # scripted once
    mutated = httpx.post(
        server.base_url + "_sim/mutate", json={"changed": 0.5, "paths": ["v1/marca/"]}, headers=KEY
    )
    assert len(mutated.json()["v1/marca/"]["changed"]) == 8


def test_serve_reuses_what_the_builder_wrote(tmp_path: Path) -> None:
    data_file = tmp_path / "records.sqlite"
    counts = write_data_file(data_file, scale=2, seed=42)
    reused = make_server("127.0.0.1", 0, data_file=data_file, reuse_existing=True)
    try:
        assert reused.sim.count() == sum(counts.values())
    finally:
        reused.server_close()
    regenerated = make_server("127.0.0.1", 0, data_file=data_file, scale=1, seed=42)
    try:
        assert regenerated.sim.count() == sum(counts_for_scale(1).values())
    finally:
        regenerated.server_close()
