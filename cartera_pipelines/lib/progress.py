"""Progress lines for long work: at most one every few seconds, with count, rate and ETA.

    progress = Progress(context.log.info, "arrears", total=len(contracts), unit="contracts")
    for batch in batches:
        ...
        progress.advance(len(batch))
    progress.finish()          # always logs the final line

A line reads ``arrears: 412,000/1,000,000 contracts (61%), 83,000/s, ETA 7s``; without a total it reads
``arrears: 412,000 contracts, 83,000/s``. Extra facts go as keyword arguments (``new=3, retries=1``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


class Progress:
    def __init__(
        self,
        log: Callable[[str], Any] | None,
        what: str,
        *,
        total: int | None = None,
        unit: str = "rows",
        every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log, self.what, self.total, self.unit, self.every = log, what, total, unit, every
        self.clock = clock
        self.started = clock()
        self.last = self.started
        self.done = 0

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started

    @property
    def rate(self) -> float:
        elapsed = self.elapsed
        return self.done / elapsed if elapsed > 0 else 0.0

    def line(self, *, final: bool = False, **facts: Any) -> str:
        rate = self.rate
        count = f"{self.done:,}/{self.total:,}" if self.total is not None else f"{self.done:,}"
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        text = f"{self.what}: {count} {self.unit}{share}, {rate:,.0f}/s"
        if final:
            text += f" in {self.elapsed:,.1f}s"
        elif self.total is not None and rate > 0 and self.total > self.done:
            text += f", ETA {(self.total - self.done) / rate:,.0f}s"
        extra = ", ".join(
            f"{key} {value:,}" if isinstance(value, int) else f"{key} {value}" for key, value in facts.items()
        )
        return f"{text}; {extra}" if extra else text

    def update(self, done: int, **facts: Any) -> None:
        """Set the count of work done; logs when the last line is ``every`` seconds old."""
        self.done = done
        now = self.clock()
        if self.log is not None and now - self.last >= self.every:
            self.last = now
            self.log(self.line(**facts))

    def advance(self, n: int = 1, **facts: Any) -> None:
        self.update(self.done + n, **facts)

    def finish(self, **facts: Any) -> str:
        """Log (and return) the final line, whatever the time since the last one."""
        text = self.line(final=True, **facts)
        if self.log is not None:
            self.log(text)
        return text
