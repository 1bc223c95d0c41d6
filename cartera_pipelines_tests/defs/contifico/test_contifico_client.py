"""The client resource against the simulator over real HTTP."""

from __future__ import annotations

import logging
import time

import pytest

from cartera_pipelines.resources.contifico import (
    ContificoApi,
    ContificoAuthError,
    ContificoHttpError,
    ContificoPayloadError,
    TokenBucket,
)
from cartera_pipelines.sandbox import contifico_simulator
from cartera_pipelines.sandbox.contifico_simulator import FaultConfig, SimulatorServer
from cartera_pipelines.sandbox.defaults import CONTIFICO_API_KEY as SANDBOX_CONTIFICO_API_KEY

from .conftest import make_api


def _ids(api: ContificoApi, path: str, version: str, **kwargs: object) -> list[str]:
    return [r["id"] for page in api.iter_pages(path, version, **kwargs) for r in page.records]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "version"), [("v1/producto/", "v1"), ("v2/documento/", "v2"), ("v1/bodega/", "v1")]
)
@pytest.mark.parametrize("page_size", [7, 100, 1000])
def test_pages_cover_every_record_in_order(
    api: ContificoApi, simulator: SimulatorServer, path: str, version: str, page_size: int
) -> None:
    assert _ids(api, path, version, page_size=page_size) == simulator.sim.ids(path)


def test_a_server_capping_the_page_size_does_not_truncate_v1(
    api: ContificoApi, simulator: SimulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contifico_simulator, "MAX_PAGE_SIZE", 40)
    assert _ids(api, "v1/producto/", "v1", page_size=100) == simulator.sim.ids("v1/producto/")
    assert _ids(api, "v2/documento/", "v2", page_size=100) == simulator.sim.ids("v2/documento/")


def test_v1_out_of_range_400_ends_the_list(api: ContificoApi, simulator: SimulatorServer) -> None:
    simulator.sim.configure(FaultConfig(v1_out_of_range=True))
    assert _ids(api, "v1/persona/", "v1", page_size=50) == simulator.sim.ids("v1/persona/")


def test_filters_reach_the_api(api: ContificoApi, simulator: SimulatorServer) -> None:
    purchases = _ids(api, "v2/registro/documento/", "v2", params={"tipo_registro": "PRO"})
    assert purchases == simulator.sim.ids("v2/registro/documento/", tipo_registro="PRO")
    assert 0 < len(purchases) < len(simulator.sim.ids("v2/registro/documento/"))


def test_wrong_key_fails_at_once_naming_the_variable(simulator: SimulatorServer) -> None:
    api = make_api(simulator, api_key="not-the-key")
    started = time.perf_counter()
    with pytest.raises(ContificoAuthError, match="CONTIFICO_API_KEY") as error:
        list(api.iter_pages("v1/producto/", "v1", prefetch=False))
    assert "HTTP 401" in str(error.value) and "\n" not in str(error.value)
    assert simulator.sim.stats["unauthorized"] == 1  # no retries
    assert time.perf_counter() - started < 1


def test_retries_429_and_500_honouring_retry_after(api: ContificoApi, simulator: SimulatorServer) -> None:
    simulator.sim.configure(FaultConfig(retry_after="0.4"))
    simulator.sim.add_fault("429", path="producto", page=2)
    simulator.sim.add_fault("500", path="producto", page=3)
    started = time.perf_counter()
    pages = list(api.iter_pages("v1/producto/", "v1", page_size=100, prefetch=False))
    assert time.perf_counter() - started >= 0.4
    assert [r["id"] for p in pages for r in p.records] == simulator.sim.ids("v1/producto/")
    assert sum(p.retries for p in pages) == 2
    assert simulator.sim.stats["fault_429"] == 1 and simulator.sim.stats["fault_500"] == 1


def test_gives_up_after_max_retries(simulator: SimulatorServer) -> None:
    api = make_api(simulator, max_retries=2)
    simulator.sim.add_fault("500", path="marca", times=None)
    with pytest.raises(ContificoHttpError, match="after 3 attempts"):
        list(api.iter_pages("v1/marca/", "v1"))
    assert simulator.sim.stats["fault_500"] == 3


def test_timeouts_are_retried(simulator: SimulatorServer) -> None:
    api = make_api(simulator, timeout_seconds=0.2)
    simulator.sim.add_fault("latency", path="marca", times=1)  # 0.5 s > timeout, once
    assert _ids(api, "v1/marca/", "v1", prefetch=False) == simulator.sim.ids("v1/marca/")


@pytest.mark.parametrize(
    ("fault", "message"),
    [("malformed", "not valid JSON"), ("wrong_shape", "expected a JSON array")],
)
def test_malformed_page_names_url_page_and_body(
    api: ContificoApi, simulator: SimulatorServer, fault: str, message: str
) -> None:
    simulator.sim.add_fault(fault, path="producto", page=2, times=None)
    with pytest.raises(ContificoPayloadError, match=message) as error:
        list(api.iter_pages("v1/producto/", "v1", page_size=100))
    text = str(error.value)
    assert error.value.page == 2 and "page 2" in text
    assert "result_page=2" in error.value.url and "/sistema/api/v1/producto/" in text
    assert "body starts:" in text and len(error.value.body) <= 201


def test_debug_log_masks_the_key(api: ContificoApi, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="cartera_pipelines.contifico"):
        list(api.iter_pages("v1/bodega/", "v1"))
    text = caplog.text
    assert "GET http://127.0.0.1" in text and "'authorization': '***'" in text.lower()
    assert SANDBOX_CONTIFICO_API_KEY not in text


def test_rate_limit_spaces_requests(simulator: SimulatorServer) -> None:
    api = make_api(simulator, rate_limit_rps=20)
    started = time.perf_counter()
    for _ in range(30):
        api.get("v1/bodega/")
    # a burst of 20, then 10 more at 20/s
    assert time.perf_counter() - started >= 0.45


def test_token_bucket_unlimited_never_waits() -> None:
    bucket = TokenBucket(0)
    assert all(bucket.acquire() == 0.0 for _ in range(1000))
