"""Per-server extraction limits.

Dagster pools are static per asset, but which Firebird server a company-year partition reads is only
known at run time. So the extraction step claims a slot of the instance pool ``tns_<server>`` itself,
through the same concurrency store that backs ``pool=`` (visible and resizable in the UI under
Deployment → Concurrency, or ``dagster instance concurrency set tns_<server> N``). A pool nobody
sized yet is created with the server's ``max_concurrent`` from the servers file. While waiting the
step logs who it waits for; run monitoring frees the slot of a run that died
(``free_slots_after_run_end_seconds`` in dagster.yaml).

Runs requested by the sensor and the schedules also carry the tag ``tns/server: <name>`` so a
``tag_concurrency_limits`` entry (applyLimitPerUniqueValue) can keep surplus runs queued instead of
waiting inside a run worker.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from cartera_pipelines.resources.tns import TnsServer

SERVER_TAG = "tns/server"


class SlotTimeout(RuntimeError):
    """No slot of the server's pool became free in time."""


@contextmanager
def server_slot(
    context: dg.AssetExecutionContext, server: TnsServer, *, timeout: float = 3600.0, poll: float = 2.0
) -> Iterator[None]:
    """Hold one slot of pool ``tns_<server>`` for the body (no-op on an instance without pools)."""
    instance = context.instance
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        context.log.warning(
            f"this Dagster instance has no concurrency pools: extraction on {server.name} is not limited"
        )
        yield
        return
    pool = server.pool
    if pool not in storage.get_concurrency_keys():
        storage.set_concurrency_slots(pool, server.max_concurrent)
    run_id = context.run.run_id
    step_key = context.op_execution_context.get_step_execution_context().step.key
    started = time.monotonic()
    last_log = 0.0
    while not storage.claim_concurrency_slot(pool, run_id, step_key).is_claimed:
        waited = time.monotonic() - started
        if waited > timeout:
            storage.free_concurrency_slot_for_step(run_id, step_key)
            raise SlotTimeout(
                f"waited {waited:.0f}s for a free slot in pool {pool}; see Deployment → Concurrency"
            )
        if waited - last_log >= 60 or last_log == 0.0:
            info = storage.get_concurrency_info(pool)
            context.log.info(
                f"waiting for a slot in pool {pool} ({info.active_slot_count}/{info.slot_count} in use)"
            )
            last_log = waited or 1e-9
        time.sleep(poll)
    try:
        yield
    finally:
        storage.free_concurrency_slot_for_step(run_id, step_key)
