"""Per-job Kubernetes resources (read by the K8sRunLauncher in production, ignored locally)."""

from __future__ import annotations


def k8s_resources(cpu: str, memory: str, memory_limit: str) -> dict[str, object]:
    """The ``dagster-k8s/config`` tag giving a job's run pod these requests and memory limit."""
    return {
        "dagster-k8s/config": {
            "container_config": {
                "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"memory": memory_limit}}
            }
        }
    }
