"""Sandbox demo data for the factoring family (filled in by the factoring issue)."""

from __future__ import annotations

from cartera_pipelines.sandbox.targets import SandboxTargets


def build(targets: SandboxTargets, *, scale: int = 1, seed: int = 42) -> dict[str, int]:
    return {}
