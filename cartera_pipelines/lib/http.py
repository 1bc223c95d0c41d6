"""HTTP helpers shared by the clients we write (Contifico, webhooks)."""

from __future__ import annotations

import datetime as dt
import math
from email.utils import parsedate_to_datetime


def parse_retry_after(value: str | None, now: dt.datetime | None = None) -> float | None:
    """``Retry-After`` in seconds: delay-seconds (``120``, ``1.5``) or an HTTP date
    (``Wed, 21 Oct 2026 07:28:00 GMT``); ``None`` when absent or unreadable; never negative."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
