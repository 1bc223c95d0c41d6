"""A slot of a Dagster pool claimed at run time, for limits known only inside the step.

Dagster pools are static per asset (``pool=``). Some limits are not: which Firebird server a TNS
partition reads is known only at run time, and a Contifico resource's cursor must never be advanced by
two runs at once, whichever job (the schedule's, or the implicit asset job of a UI launch, which cannot
carry run tags) started them. So the step claims a slot itself, through the same concurrency store that
backs ``pool=`` (visible and resizable in the UI under Deployment → Concurrency, or ``dagster instance
concurrency set <pool> N``). A pool nobody sized yet is created with the caller's limit. While waiting
the step logs who it waits for; run monitoring frees the slot of a run that died
(``free_slots_after_run_end_seconds`` in dagster.yaml).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg


class SlotTimeout(RuntimeError):
    """No slot of the pool became free in time."""


@contextmanager
def pool_slot(
    context: dg.AssetExecutionContext,
    pool: str,
    *,
    limit: int,
    timeout: float = 3600.0,
    poll: float = 2.0,
) -> Iterator[None]:
    """Hold one slot of ``pool`` for the body (created with ``limit`` slots when nobody sized it yet).

    The claim is recorded under the step's key plus the pool's name, so it never shares a record with the
    slot Dagster itself holds for the step's static ``pool=``, and releasing one never releases the other.
    On an instance without pools (an ephemeral one in tests) the body runs unlimited, with a warning.
    """
    storage = context.instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        context.log.warning(f"this Dagster instance has no concurrency pools: {pool} is not limited")
        yield
        return
    if pool not in storage.get_concurrency_keys():
        storage.set_concurrency_slots(pool, limit)
    run_id = context.run.run_id
    step_key = context.op_execution_context.get_step_execution_context().step.key
    claim_key = f"{step_key}[{pool}]"
    started, last_log = time.monotonic(), 0.0
    while not storage.claim_concurrency_slot(pool, run_id, claim_key).is_claimed:
        waited = time.monotonic() - started
        if waited > timeout:
            storage.free_concurrency_slot_for_step(run_id, claim_key)
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
        storage.free_concurrency_slot_for_step(run_id, claim_key)
