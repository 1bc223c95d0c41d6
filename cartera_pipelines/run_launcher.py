"""The run launcher of the single-host deployment (``deploy/dagster.yaml``): Dagster's DockerRunLauncher,
each run in its own container of the code location's image, forwarding a variable only when it is set.

Dagster's launcher refuses to launch *any* run when one variable named in ``env_vars`` is unset in the
daemon. In production mode (``CARTERA_ENV=production``) a missing variable should instead fail the one
resource that needs it, at setup, naming it (``resources/base.py``), and leave every other family
running: so names that are not set are left out of the run container's environment.
"""

from __future__ import annotations

import os

from dagster._core.storage.dagster_run import DagsterRun
from dagster_docker import DockerRunLauncher as _DockerRunLauncher
from dagster_docker.container_context import DockerContainerContext


class DockerRunLauncher(_DockerRunLauncher):
    """``dagster_docker.DockerRunLauncher`` with ``env_vars`` entries forwarded only when set."""

    def get_container_context(self, dagster_run: DagsterRun) -> DockerContainerContext:
        context = super().get_container_context(dagster_run)
        forwarded = [v for v in context.env_vars if "=" in v or os.getenv(v) is not None]
        return context._replace(env_vars=forwarded)
