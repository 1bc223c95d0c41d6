from pathlib import Path

import dagster as dg
import pytest

from cartera_pipelines.settings import VARIABLES, load_settings, mask_url


def test_defaults_live_under_cartera_home(tmp_path: Path) -> None:
    settings = load_settings({"CARTERA_HOME": str(tmp_path)})
    assert settings.home == tmp_path.resolve()
    assert settings.lending_url == f"sqlite:///{tmp_path.resolve()}/lending.db"
    assert settings.operations_url.endswith("/operations.db")
    assert settings.warehouse_url.endswith("/warehouse.db")
    assert settings.tns_servers_file == tmp_path.resolve() / "tns_servers.yaml"
    assert settings.contifico_base_url.startswith("http://127.0.0.1:")
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert settings.reports_dir == tmp_path.resolve() / "reports"
    assert settings.explicit == frozenset({"CARTERA_HOME"})


def test_environment_overrides_and_secrets_stay_env_vars(tmp_path: Path) -> None:
    env = {
        "CARTERA_HOME": str(tmp_path),
        "CARTERA_LENDING_URL": "mysql+pymysql://reader:s3cret@db:3306/lending",
        "CONTIFICO_API_KEY": "live-key",
        "CONTIFICO_PAGE_SIZE": "50",
    }
    settings = load_settings(env)
    assert settings.lending_url == env["CARTERA_LENDING_URL"]
    assert settings.contifico_page_size == 50
    # a set variable reaches resources as an EnvVar: the UI shows its name, never its value
    assert settings.value_or_env("CARTERA_LENDING_URL") == dg.EnvVar("CARTERA_LENDING_URL")
    assert settings.value_or_env("CARTERA_OPERATIONS_URL") == settings.operations_url
    assert "s3cret" not in mask_url(settings.lending_url)


def test_blank_variables_count_as_unset(tmp_path: Path) -> None:
    settings = load_settings({"CARTERA_HOME": str(tmp_path), "CARTERA_WAREHOUSE_URL": "  "})
    assert settings.is_default("CARTERA_WAREHOUSE_URL")


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_bad_page_size_names_the_variable(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="CONTIFICO_PAGE_SIZE"):
        load_settings({"CARTERA_HOME": str(tmp_path), "CONTIFICO_PAGE_SIZE": value})


def test_every_design_variable_is_known() -> None:
    names = {v.name for v in VARIABLES}
    design = {
        "CARTERA_LENDING_URL",
        "CARTERA_OPERATIONS_URL",
        "CARTERA_WAREHOUSE_URL",
        "CARTERA_TNS_SERVERS",
        "CONTIFICO_API_BASE_URL",
        "CONTIFICO_API_KEY",
        "CONTIFICO_API_TOKEN",
        "CONTIFICO_PAGE_SIZE",
        "MLFLOW_TRACKING_URI",
        "CARTERA_HOME",
        "DAGSTER_HOME",
        "DAGSTER_PG_URL",
    }
    assert design <= names
