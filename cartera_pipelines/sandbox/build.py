"""``cartera sandbox build``: every family's demo data, deterministic for a given seed and scale."""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cartera_pipelines.resources.database import create_store_engine
from cartera_pipelines.sandbox.targets import SandboxTargets

# Each module ``cartera_pipelines.sandbox.<name>`` has ``build(targets, scale, seed) -> dict[table, rows]``.
BUILDERS: tuple[str, ...] = ("collections", "loans", "factoring", "tns", "contifico")


@dataclass(frozen=True)
class BuiltTable:
    family: str
    table: str
    rows: int


def build_sandbox(
    targets: SandboxTargets,
    *,
    scale: int = 1,
    seed: int = 42,
    families: Sequence[str] = BUILDERS,
    log: Callable[[str], None] = lambda _m: None,
) -> list[BuiltTable]:
    if scale < 1:
        raise ValueError(f"--scale must be at least 1, got {scale}")
    unknown = set(families) - set(BUILDERS)
    if unknown:
        raise ValueError(f"unknown sandbox families {sorted(unknown)}; known: {', '.join(BUILDERS)}")
    targets.home.mkdir(parents=True, exist_ok=True)
    for url in (targets.lending_url, targets.operations_url, targets.warehouse_url):
        # every store exists after a build, even one no builder writes to (the warehouse is filled by assets)
        engine = create_store_engine(url)
        engine.connect().close()
        engine.dispose()
    built: list[BuiltTable] = []
    for family in families:
        started = time.perf_counter()
        module = importlib.import_module(f"cartera_pipelines.sandbox.{family}")
        counts: dict[str, int] = module.build(targets, scale=scale, seed=seed)
        built.extend(BuiltTable(family, table, rows) for table, rows in counts.items())
        log(f"{family}: {sum(counts.values()):,} rows in {time.perf_counter() - started:.1f}s")
    return built
