import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cartera_pipelines.resources.paths import CarteraPaths
from cartera_pipelines.sandbox import defaults as sandbox_defaults
from cartera_pipelines.settings import (
    REQUIRED_IN_PRODUCTION,
    VARIABLES,
    MissingSettingError,
    load_settings,
    mask_url,
)


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


# -- modes ------------------------------------------------------------------------------------------

PRODUCTION_ENV = {
    "CARTERA_ENV": "production",
    "CARTERA_LENDING_URL": "mysql+pymysql://reader:pw@lending:3306/lending",
    "CARTERA_OPERATIONS_URL": "postgresql+psycopg2://cartera:pw@ops:5432/operations",
    "CARTERA_WAREHOUSE_URL": "postgresql+psycopg2://cartera:pw@dwh:5432/warehouse",
    "CARTERA_TNS_SERVERS": "/etc/cartera/tns_servers.yaml",
    "CONTIFICO_API_BASE_URL": "https://api.contifico.com/sistema/api/",
    "CONTIFICO_API_KEY": "live-key",
    "MLFLOW_TRACKING_URI": "http://mlflow:5000",
    "CARTERA_WEBHOOK_URLS": "https://hooks.example.com/cartera",
    "CARTERA_WEBHOOK_SECRET": "live-secret",
}


def test_production_mode_has_no_fallback(tmp_path: Path) -> None:
    settings = load_settings({"CARTERA_ENV": "production", "CARTERA_HOME": str(tmp_path)})
    assert settings.production
    assert settings.missing == REQUIRED_IN_PRODUCTION
    assert set(REQUIRED_IN_PRODUCTION) == {
        "CARTERA_LENDING_URL",
        "CARTERA_OPERATIONS_URL",
        "CARTERA_WAREHOUSE_URL",
        "CARTERA_TNS_SERVERS",
        "CONTIFICO_API_BASE_URL",
        "CONTIFICO_API_KEY",
        "MLFLOW_TRACKING_URI",
        "CARTERA_WEBHOOK_URLS",
        "CARTERA_WEBHOOK_SECRET",
    }
    with pytest.raises(
        MissingSettingError, match=r"^CARTERA_WEBHOOK_URLS is not set \(CARTERA_ENV=production"
    ):
        _ = settings.webhook_urls
    assert not settings.mlflow_embedded
    # what is not the sandbox's keeps its default
    assert settings.contifico_page_size == 200 and settings.contifico_api_token == ""
    assert settings.reports_dir == tmp_path.resolve() / "reports"


def test_production_mode_with_everything_set_uses_only_the_environment() -> None:
    settings = load_settings(PRODUCTION_ENV)
    assert settings.missing == ()
    assert settings.webhook_urls == ("https://hooks.example.com/cartera",)
    for variable in VARIABLES:
        value = settings.values.get(variable.name, "")
        assert not any(s in value for s in sandbox_defaults.DEFAULTS.values()), variable.name


@pytest.mark.parametrize("value", ["", "sandbox", "SANDBOX"])
def test_sandbox_is_the_default_mode(tmp_path: Path, value: str) -> None:
    settings = load_settings({"CARTERA_HOME": str(tmp_path), "CARTERA_ENV": value})
    assert settings.mode == "sandbox" and settings.missing == ()
    assert settings.webhook_secret == sandbox_defaults.WEBHOOK_SECRET
    assert settings.mlflow_embedded


def test_an_unknown_mode_is_refused_naming_the_variable() -> None:
    with pytest.raises(ValueError, match="CARTERA_ENV must be one of sandbox, production, got 'prod'"):
        load_settings({"CARTERA_ENV": "prod"})


def test_settings_never_show_secrets_in_their_repr() -> None:
    assert "live-secret" not in repr(load_settings(PRODUCTION_ENV))


def test_production_code_never_imports_the_sandbox() -> None:
    """Loading the code location in production mode imports no module of ``cartera_pipelines.sandbox``."""
    probe = (
        "import sys; from cartera_pipelines.definitions import defs; defs(); "
        "print(sorted(m for m in sys.modules if m.startswith('cartera_pipelines.sandbox')))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {v.name for v in VARIABLES}} | PRODUCTION_ENV
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


# -- one layout, one masking -------------------------------------------------------------------------


def test_the_layout_is_defined_once(tmp_path: Path) -> None:
    settings = load_settings({"CARTERA_HOME": str(tmp_path)})
    paths = CarteraPaths(home=str(settings.home))
    assert (paths.reports_dir, paths.models_dir) == (settings.reports_dir, settings.models_dir)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("mysql+pymysql://reader:s3cret@db:3306/lending", "mysql+pymysql://reader:***@db:3306/lending"),
        (
            "postgresql://u:p%40ss@[::1]:5432/db?sslmode=require",
            "postgresql://u:***@[::1]:5432/db?sslmode=require",
        ),
        ("http://admin:pw@mlflow:5000", "http://admin:***@mlflow:5000"),
        ("http://mlflow:5000", "http://mlflow:5000"),
        ("sqlite:////var/lib/cartera/mlflow.db", "sqlite:////var/lib/cartera/mlflow.db"),
        ("/var/lib/cartera/mlruns", "/var/lib/cartera/mlruns"),
    ],
)
def test_mask_url(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@given(
    password=st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1),
    scheme=st.sampled_from(["postgresql+psycopg2", "mysql+pymysql", "http", "https"]),
)
def test_mask_url_never_shows_the_password(password: str, scheme: str) -> None:
    """Whatever the password (percent-encoded as URLs require), only ``***`` is printed."""
    url = f"{scheme}://user:{quote(password, safe='')}@host:1234/db"
    assert mask_url(url) == f"{scheme}://user:***@host:1234/db"
