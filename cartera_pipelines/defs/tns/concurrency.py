"""Per-server extraction limits.

Which Firebird server a company-year partition reads is only known at run time, so the extraction step
claims a slot of the instance pool ``tns_<server>`` itself (``lib.concurrency.pool_slot``); a pool nobody
sized yet is created with the server's ``max_concurrent`` from the servers file.

Runs requested by the sensor and the schedules also carry the tag ``tns/server: <name>`` so a
``tag_concurrency_limits`` entry (applyLimitPerUniqueValue) can keep surplus runs queued instead of
waiting inside a run worker.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import dagster as dg

from cartera_pipelines.lib.concurrency import SlotTimeout, pool_slot
from cartera_pipelines.resources.tns import TnsServer

SERVER_TAG = "tns/server"

__all__ = ["SERVER_TAG", "SlotTimeout", "server_slot"]


def server_slot(
    context: dg.AssetExecutionContext, server: TnsServer, *, timeout: float = 3600.0, poll: float = 2.0
) -> AbstractContextManager[None]:
    """Hold one slot of pool ``tns_<server>`` for the body (no-op on an instance without pools)."""
    return pool_slot(context, server.pool, limit=server.max_concurrent, timeout=timeout, poll=poll)
