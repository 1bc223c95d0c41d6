"""CARTERA_ENV=production: the code location loads with variables unset, and each resource whose variable
is unset fails its setup with one line naming it, before reading, writing or sending anything."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from cartera_pipelines.resources import build_resources
from cartera_pipelines.settings import REQUIRED_IN_PRODUCTION, MissingSettingError, load_settings

NEEDS = {
    "lending_db": ["CARTERA_LENDING_URL"],
    "operations_db": ["CARTERA_OPERATIONS_URL"],
    "warehouse_db": ["CARTERA_WAREHOUSE_URL"],
    "tns": ["CARTERA_TNS_SERVERS"],
    "contifico": ["CONTIFICO_API_BASE_URL", "CONTIFICO_API_KEY"],
    "mlflow": ["MLFLOW_TRACKING_URI"],
    "webhooks": ["CARTERA_WEBHOOK_URLS", "CARTERA_WEBHOOK_SECRET"],
    "paths": [],
}


def test_each_resource_fails_setup_naming_its_unset_variables(tmp_path: Path) -> None:
    resources = build_resources(load_settings({"CARTERA_ENV": "production", "CARTERA_HOME": str(tmp_path)}))
    assert set(resources) == set(NEEDS)
    assert sorted(v for names in NEEDS.values() for v in names) == sorted(REQUIRED_IN_PRODUCTION)
    for key, resource in resources.items():
        if not NEEDS[key]:
            continue
        assert resource.unset_variables == NEEDS[key], key
        with dg.build_init_resource_context() as context, pytest.raises(MissingSettingError) as exc:
            resource.setup_for_execution(context)
        assert str(exc.value) == (
            f"{', '.join(NEEDS[key])} {'is' if len(NEEDS[key]) == 1 else 'are'} not set "
            "(CARTERA_ENV=production has no sandbox fallback)"
        )


def test_a_set_variable_stays_an_env_var_and_passes_setup(tmp_path: Path) -> None:
    settings = load_settings(
        {"CARTERA_ENV": "production", "CARTERA_HOME": str(tmp_path), "CARTERA_WAREHOUSE_URL": "sqlite://"}
    )
    warehouse = build_resources(settings)["warehouse_db"]
    assert warehouse.url == dg.EnvVar("CARTERA_WAREHOUSE_URL") and warehouse.unset_variables == []
    with dg.build_init_resource_context() as context:
        warehouse.setup_for_execution(context)


def test_sandbox_mode_builds_every_resource_complete(cartera_env: Path) -> None:
    for key, resource in build_resources(load_settings()).items():
        assert not getattr(resource, "unset_variables", []), key


@pytest.fixture
def production_with_outbox(cartera_env: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The sandbox's operations store (with pending outbox events) and production mode with every
    variable set except CARTERA_WEBHOOK_URLS."""
    from cartera_pipelines.sandbox import factoring
    from cartera_pipelines.sandbox.targets import targets_from_settings

    factoring.build(targets_from_settings(load_settings()))
    operations_url = f"sqlite:///{cartera_env.resolve()}/operations.db"
    env = {
        "CARTERA_ENV": "production",
        "CARTERA_LENDING_URL": f"sqlite:///{cartera_env.resolve()}/lending.db",
        "CARTERA_OPERATIONS_URL": operations_url,
        "CARTERA_WAREHOUSE_URL": f"sqlite:///{cartera_env.resolve()}/warehouse.db",
        "CARTERA_TNS_SERVERS": str(cartera_env / "tns_servers.yaml"),
        "CONTIFICO_API_BASE_URL": "http://127.0.0.1:1/sistema/api/",
        "CONTIFICO_API_KEY": "k",
        "MLFLOW_TRACKING_URI": f"sqlite:///{cartera_env.resolve()}/mlflow.db",
        "CARTERA_WEBHOOK_SECRET": "s",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CARTERA_WEBHOOK_URLS", raising=False)
    return operations_url


def _outbox_state(url: str) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT event_id, attempts, delivered_at, last_error FROM outbox_events ORDER BY event_id"
            )
        ).all()
    engine.dispose()
    return [tuple(r) for r in rows]


def test_the_outbox_fails_at_setup_naming_the_webhook_urls_and_sends_nothing(
    production_with_outbox: str, dagster_instance: dg.DagsterInstance
) -> None:
    from cartera_pipelines.definitions import defs

    definitions = defs()
    before = _outbox_state(production_with_outbox)
    assert before, "the sandbox should have pending outbox events"
    result = dg.materialize(
        [*definitions.assets],
        selection=[dg.AssetKey(["operations", "outbox_deliveries"])],
        resources=definitions.resources,
        instance=dagster_instance,
        raise_on_error=False,
    )
    assert not result.success
    causes = []
    for event in result.all_events:
        error = getattr(event.event_specific_data, "error", None)
        while error is not None:
            causes.append(error.message)
            error = error.cause
    assert any(
        line.strip().endswith(
            "MissingSettingError: CARTERA_WEBHOOK_URLS is not set (CARTERA_ENV=production has no sandbox fallback)"
        )
        for line in causes
    ), causes
    assert _outbox_state(production_with_outbox) == before  # no attempt counted, nothing delivered
