"""Our YAML configuration files (the TNS servers file, the pools file) as pydantic models.

Unknown keys are refused, numbers are checked against their ranges, and each problem is reported on one
line naming the file, the entry and the field::

    /etc/cartera/tns_servers.yaml: server 'bogota', field 'port': must be at most 65535, got 70000

:func:`load_config_file` reads a file into a model and raises the caller's error type with those lines
(several problems are joined with ``; ``, so the message stays one line).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, model_validator

MAX_POOL_LIMIT = 1000  # Dagster refuses larger pool limits


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


NonEmpty = Annotated[str, Field(min_length=1)]


class TnsServerConfig(StrictModel):
    """One entry of the TNS servers file (``CARTERA_TNS_SERVERS``)."""

    name: NonEmpty
    driver: Literal["firebird", "sqlite"] = "firebird"
    admin_path: NonEmpty
    host: NonEmpty = "127.0.0.1"
    port: Annotated[StrictInt, Field(ge=1, le=65535)] = 3050
    user: NonEmpty = "SYSDBA"
    password_env: NonEmpty | None = None
    """Name of the environment variable that holds the password (never the password itself)."""
    charset: NonEmpty = "WIN1252"
    max_concurrent: Annotated[StrictInt, Field(ge=1, le=MAX_POOL_LIMIT)] = 2
    """Extractions this server tolerates at once (the size of its Dagster pool ``tns_<name>``)."""


class TnsServersFile(StrictModel):
    servers: list[TnsServerConfig]

    @model_validator(mode="after")
    def _unique_names(self) -> TnsServersFile:
        names = [s.name for s in self.servers]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"server names must be unique; repeated: {', '.join(duplicates)}")
        return self


class PoolsFile(StrictModel):
    """``pools:`` maps a Dagster pool to its limit (steps holding a connection at once)."""

    pools: dict[NonEmpty, Annotated[StrictInt, Field(ge=1, le=MAX_POOL_LIMIT)]]


Model = TypeVar("Model", bound=BaseModel)


def load_config_file(
    path: Path,
    model: type[Model],
    *,
    what: str,
    error: type[Exception],
    hint: str = "",
    environ: Mapping[str, str] | None = None,
) -> Model:
    """``path`` parsed as ``model``. ``what`` names the file in messages ("TNS servers file"), ``hint``
    follows a missing-file message. With ``environ``, every ``password_env`` the file names must be set
    there. Raises ``error`` with one line per problem, joined into one line."""
    if not path.is_file():
        raise error(f"{what} {path} does not exist{hint}")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise error(f"{what} {path} is not valid YAML: {first}") from None
    try:
        parsed = model.model_validate(document)
    except ValidationError as exc:
        raise error("; ".join(_problem(path, document, e) for e in exc.errors())) from None
    if environ is not None:
        unset = [
            f"{path}: {_entry(document, ('servers', i))}, field 'password_env': variable {s.password_env} is not set"
            for i, s in enumerate(getattr(parsed, "servers", []))
            if s.password_env and s.password_env not in environ
        ]
        if unset:
            raise error("; ".join(unset))
    return parsed


def _entry(document: Any, loc: tuple[Any, ...]) -> str:
    """'server 'bogota'' / 'server #2' / 'pool 'lending_db'' for the start of an error location."""
    if len(loc) >= 2 and loc[0] == "servers" and isinstance(loc[1], int):
        entries = document.get("servers") if isinstance(document, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        name = entry.get("name") if isinstance(entry, dict) else None
        return f"server {name!r}" if isinstance(name, str) and name else f"server #{loc[1] + 1}"
    if len(loc) >= 2 and loc[0] == "pools":
        return f"pool {loc[1]!r}"
    return f"top level '{loc[0]}'" if loc else "top level"


def _problem(path: Path, document: Any, error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if not isinstance(document, dict):
        return f"{path}: must be a mapping with a top-level section, got {type(document).__name__}"
    if len(loc) <= 1:
        section = loc[0] if loc else ""
        if kind == "extra_forbidden":
            return f"{path}: unknown top-level key {section!r}"
        if kind == "missing":
            return f"{path}: needs a top-level '{section}' section"
        if kind in ("list_type", "dict_type"):
            shape = "list" if kind == "list_type" else "mapping"
            return f"{path}: top-level '{section}' must be a {shape}, got {type(value).__name__}"
        return f"{path}: {error['msg']}"
    entry = _entry(document, loc)
    field = loc[2] if len(loc) > 2 else None
    if loc[0] == "pools":
        field = "limit" if len(loc) == 2 or loc[-1] != "[key]" else "name"
    where = f"{path}: {entry}" + (f", field {field!r}" if field is not None else "")
    if kind == "extra_forbidden":
        return f"{where}: unknown key"
    if kind == "missing":
        return f"{where}: is required"
    if kind == "greater_than_equal":
        return f"{where}: must be at least {ctx['ge']}, got {value!r}"
    if kind == "less_than_equal":
        return f"{where}: must be at most {ctx['le']}, got {value!r}"
    if kind in ("int_type", "int_parsing"):
        return f"{where}: must be an integer, got {value!r}"
    if kind == "literal_error":
        return f"{where}: must be one of {ctx.get('expected')}, got {value!r}"
    if kind == "string_too_short":
        return f"{where}: must not be empty"
    if kind == "model_type":
        return f"{where}: must be a mapping of keys, got {type(value).__name__}"
    return f"{where}: {error['msg']}"
