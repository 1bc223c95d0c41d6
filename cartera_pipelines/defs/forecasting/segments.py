"""Demand segments (Syntetos–Boylan) of each article's history, plus ``new`` for short histories.

ADI = months / months with demand (average inter-demand interval); CV² = squared coefficient of
variation of the non-zero demands. Cut-offs 1.32 and 0.49 (Syntetos, Boylan & Croston, 2005):

- smooth: ADI < 1.32 and CV² < 0.49; erratic: ADI < 1.32 and CV² ≥ 0.49;
- intermittent: ADI ≥ 1.32 and CV² < 0.49; lumpy: ADI ≥ 1.32 and CV² ≥ 0.49;
- new: fewer than ``min_months`` months of history (from the article's first month).

A history without any demand is intermittent (it is all waiting). Pure numpy, vectorised.
"""

from __future__ import annotations

import warnings

import numpy as np

ADI_CUT = 1.32
CV2_CUT = 0.49
NEW_MONTHS = 12
SMOOTH, ERRATIC, INTERMITTENT, LUMPY, NEW = "smooth", "erratic", "intermittent", "lumpy", "new"
SEGMENTS = (SMOOTH, ERRATIC, INTERMITTENT, LUMPY, NEW)
SPARSE = (INTERMITTENT, LUMPY)


def adi_cv2(demand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``demand`` (NaN = before the article's start): ADI and CV² of the non-zero demands."""
    observed = ~np.isnan(demand)
    positive = observed & (np.nan_to_num(demand) > 0)
    months = observed.sum(axis=1)
    hits = positive.sum(axis=1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        adi = np.where(hits > 0, months / np.maximum(hits, 1), np.inf)
        values = np.where(positive, demand, np.nan)
        mean = np.nanmean(values, axis=1)
        cv2 = np.where(hits > 1, (np.nanstd(values, axis=1) / mean) ** 2, 0.0)
    return adi, np.nan_to_num(cv2)


def segments(demand: np.ndarray, min_months: int = NEW_MONTHS) -> np.ndarray:
    """The segment of every article (row) of an (articles, months) matrix."""
    adi, cv2 = adi_cv2(demand)
    months = (~np.isnan(demand)).sum(axis=1)
    frequent = adi < ADI_CUT
    regular = cv2 < CV2_CUT
    out = np.where(
        frequent, np.where(regular, SMOOTH, ERRATIC), np.where(regular, INTERMITTENT, LUMPY)
    ).astype(object)
    out[months < min_months] = NEW
    return out
