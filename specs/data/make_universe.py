"""Write the synthetic daily series that ``specs/dual_momentum.yaml`` trades (``python
specs/data/make_universe.py`` rewrites the same files: the generator is seeded).

Not market data: three random walks whose drift changes every few months, so that the leader
changes, on calendars that differ on purpose — STOCKS and BONDS trade on weekdays, BONDS also
closes on the first Monday of each month, GOLD is listed a year after the others — to show
cross-symbol features aligned causally (``docs/features.md``). Prices have 2 decimals.
"""
from __future__ import annotations

import pathlib

import numpy as np

HERE = pathlib.Path(__file__).parent
DAYS = np.arange(np.datetime64("2016-01-04"), np.datetime64("2020-01-01"))
WEEKDAYS = DAYS[np.is_busday(DAYS)]


def series(seed: int, start: float, volatility: float) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = len(WEEKDAYS)
    drift = np.repeat(rng.normal(0.0, 0.0012, n // 60 + 1), 60)[:n]
    close = start * np.cumprod(1.0 + drift + rng.normal(0.0, volatility, n))
    open_ = np.concatenate(([start], close[:-1])) * (1.0 + rng.normal(0.0, volatility / 4, n))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, volatility, n))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, volatility, n))
    volume = rng.integers(10_000, 1_000_000, n)
    return tuple(np.round(x, 2) for x in (open_, high, low, close)) + (volume,)


def write(name: str, keep: np.ndarray, columns: tuple[np.ndarray, ...]) -> None:
    lines = [",Open,High,Low,Close,Volume"]
    for day, o, h, lo, c, v in zip(WEEKDAYS[keep], *(x[keep] for x in columns)):
        lines.append(f"{day},{o:.2f},{h:.2f},{lo:.2f},{c:.2f},{v}")
    (HERE / f"{name}.csv").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    everyday = np.ones(len(WEEKDAYS), dtype=bool)
    first_mondays = (WEEKDAYS.astype("datetime64[D]").view("int64") + 3) % 7 == 0  # Mondays ...
    first_mondays &= (WEEKDAYS - WEEKDAYS.astype("datetime64[M]")).astype(int) < 7  # ... in a month's first week
    write("STOCKS", everyday, series(1, 100.0, 0.012))
    write("BONDS", ~first_mondays, series(2, 50.0, 0.004))
    write("GOLD", WEEKDAYS >= np.datetime64("2017-01-02"), series(3, 120.0, 0.009))
