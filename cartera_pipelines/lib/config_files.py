"""Our YAML configuration files (TNS servers, pool sizes): read one top-level section, with errors that
say which file and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def read_yaml_section(
    path: Path, key: str, expected: type, error: type[Exception], what: str, hint: str = ""
) -> Any:
    """The ``key`` section of the YAML file ``path``, which must be an ``expected`` (list or dict).

    ``what`` names the file in messages ("TNS servers file"); ``hint`` follows a missing-file message.
    Raises ``error`` for a missing file, invalid YAML or a missing/mistyped section.
    """
    if not path.exists():
        raise error(f"{what} {path} does not exist{hint}")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise error(f"{what} {path} is not valid YAML: {exc}") from exc
    section = doc.get(key) if isinstance(doc, dict) else None
    if not isinstance(section, expected):
        shape = "list" if expected is list else "mapping"
        raise error(f"{what} {path} must have a top-level '{key}' {shape}")
    return section
