"""What each lane is configured to do, from its combination's settings (one row per combination).

``lane_settings`` gives the fold's :class:`state.portfolio.LaneSettings` (sizing, costs, risk
limits), ``order_rules`` the :class:`state.orders.OrderRules` the order schedule follows (order
types, exits, with ATR series computed once per period and symbol), and ``sized_changes`` the
signal changes scaled by a dynamic sizer (volatility, ATR, Kelly), computed once per distinct
sizer and symbol. Settings a combination does not carry (a strategy entry without exits) take
their defaults. ``require_volume`` refuses settings that read each bar's volume on data that has none.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fp.costs import CostModel
from fp.features import FEATURES
from fp.registry import SETTINGS
from fp.sizing import DYNAMIC_SIZERS, scaled_targets, sizing_factors
from state.errors import SpecError
from state.market import Bars, MarketData
from state.orders import ORDER_TYPES, OrderRules
from state.plan import Combination
from state.portfolio import SIZING, LaneSettings, RiskLimits

__all__ = ["lane_settings", "order_rules", "require_volume", "settings_values", "sized_changes"]

_DEFAULTS = {param.name: param.default for section in SETTINGS.values() for param in section.params}
_COST_EXTRAS = ("commission_per_share", "commission_min", "commission_fixed", "slippage_fixed", "impact")
_LIMITS = ("max_position_value", "max_position_pct", "max_gross_exposure", "max_net_exposure", "max_leverage",
           "max_concentration", "daily_loss_limit", "max_drawdown_limit")


def settings_values(combos: Sequence[Combination]) -> list[dict[str, Any]]:
    """Each combination's settings by name, the defaults filled in."""
    return [{**_DEFAULTS, **dict(c.settings)} for c in combos]


def _column(s: list[dict], name: str, dtype=np.float64, none=np.nan) -> np.ndarray:
    return np.array([none if x[name] is None else x[name] for x in s], dtype)


def lane_settings(combos: Sequence[Combination], symbol: str | None = None) -> LaneSettings:
    """The per-lane settings arrays of ``combos`` (trading ``symbol``: its restrictions apply)."""
    s = settings_values(combos)
    sizing = np.array([x["sizing"] for x in s], object)
    codes = np.where(sizing == "fixed_units", SIZING.index("units"),
                     np.where(sizing == "fixed_cash", SIZING.index("cash"), SIZING.index("equity"))).astype(np.int8)
    commission = _column(s, "commission")
    slippage = _column(s, "slippage_bps") / 1e4
    extras = any(x[name] for x in s for name in _COST_EXTRAS) or any(
        x["commission_tiers"] is not None or x["participation"] is not None for x in s)
    costs = CostModel.of(
        rate=np.where([x["commission_tiers"] is None for x in s], commission, 0.0),
        per_share=_column(s, "commission_per_share"), minimum=_column(s, "commission_min"),
        fixed=_column(s, "commission_fixed"), tiers=[x["commission_tiers"] for x in s], slippage=slippage,
        slippage_fixed=_column(s, "slippage_fixed"), impact=_column(s, "impact"),
        participation=_column(s, "participation", none=np.inf)) if extras else None
    if costs is not None:
        commission = costs.rate  # a tiered lane's proportional rate is its first tier's
    restricted = np.array([symbol is not None and symbol in x["restricted"] for x in s], bool)
    limited = any(x[name] is not None for x in s for name in _LIMITS) or any(x["restricted"] for x in s)
    limits = RiskLimits(*(_column(s, name) for name in _LIMITS), restricted) if limited else None
    return LaneSettings(
        initial_cash=_column(s, "initial_cash"),
        fraction=np.array([x["fraction"] if x["sizing"] == "fixed_fraction" else 1.0 for x in s], np.float64),
        whole=np.array([not x["fractional"] for x in s], bool),
        long_only=np.array([x["direction"] == "long_only" for x in s], bool),
        max_position=_column(s, "max_position", none=np.inf),
        commission=commission,
        slippage=slippage,
        fill_on_close=np.array([x["fill"] == "close" for x in s], bool),
        sizing=codes if codes.any() else None,
        size=_column(s, "size") if codes.any() else None,
        costs=costs,
        limits=limits,
    )


def order_rules(combos: Sequence[Combination], bars: Bars) -> OrderRules:
    """How each lane's orders reach the market on ``bars``: order types and exits (ATR exits use
    the ATR of each lane's ``atr_period``, computed once per period)."""
    s = settings_values(combos)
    atr_exits = [any(x[name] is not None for name in ("stop_loss_atr", "take_profit_atr", "trailing_stop_atr"))
                 for x in s]
    series: dict[int, np.ndarray] = {}
    for x, uses in zip(s, atr_exits):
        if uses and x["atr_period"] not in series:
            series[x["atr_period"]] = FEATURES["atr"].compute({"period": x["atr_period"]},
                                                              (bars.high, bars.low, bars.close), bars.price_precision)[0]
    return OrderRules(
        delay=np.array([0 if x["fill"] == "close" else 1 for x in s], np.int64),
        order_type=np.array([ORDER_TYPES.index(x["order_type"]) for x in s], np.int64),
        limit_offset=_column(s, "limit_offset"),
        stop_offset=_column(s, "stop_offset"),
        good_till_cancelled=np.array([x["time_in_force"] == "gtc" for x in s], bool),
        stop_loss=_column(s, "stop_loss"),
        take_profit=_column(s, "take_profit"),
        trailing_stop=_column(s, "trailing_stop"),
        stop_loss_atr=_column(s, "stop_loss_atr"),
        take_profit_atr=_column(s, "take_profit_atr"),
        trailing_stop_atr=_column(s, "trailing_stop_atr"),
        max_holding=_column(s, "max_holding_bars", np.int64, none=0),
        target_first=np.array([x["exit_priority"] == "target_first" for x in s], bool),
        atr=tuple(series.get(x["atr_period"]) if uses else None for x, uses in zip(s, atr_exits)),
        participation_bars=np.array([x["participation_bars"] if x["participation"] is not None else 0 for x in s],
                                    np.int64),
    )


def sized_changes(combos: Sequence[Combination], changes: list[tuple[np.ndarray, np.ndarray]], bars: Bars,
                  periods_per_year: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each lane's signal changes, targets scaled by its dynamic sizer's factor at each change bar
    (``fp.sizing``); lanes with a static sizer are returned as they are."""
    s = settings_values(combos)
    factors: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for x, lane_changes in zip(s, changes):
        if x["sizing"] not in DYNAMIC_SIZERS:
            out.append(lane_changes)
            continue
        key = (x["sizing"], x["sizing_lookback"], x["target_volatility"], x["risk_per_trade"], x["atr_multiple"],
               x["kelly_fraction"], x["size_cap"])
        if key not in factors:
            factors[key] = sizing_factors(x["sizing"], bars, lookback=x["sizing_lookback"],
                                          target_volatility=x["target_volatility"],
                                          risk_per_trade=x["risk_per_trade"], atr_multiple=x["atr_multiple"],
                                          kelly_fraction=x["kelly_fraction"], size_cap=x["size_cap"],
                                          periods_per_year=periods_per_year)
        out.append(scaled_targets(lane_changes, factors[key]))
    return out


def require_volume(combos: Sequence[Combination], market: MarketData) -> None:
    """Refuse ``participation`` or ``impact`` when a symbol's data lacks a bar's volume.

    Both read each bar's volume (a bar with volume 0 has no liquidity, see ``fp.costs``); a bar
    whose volume is unknown (no volume column, or an empty cell) would silently mean something
    else, so the run is refused with a :class:`SpecError` naming the setting, the symbol, the data
    and the first bar without volume.
    """
    s = settings_values(combos)
    used = [name for name in ("participation", "impact") if any(x[name] for x in s)]
    if not used:
        return
    for bars in market.bars:
        missing = np.isnan(bars.volume)
        if missing.any():
            first = int(np.argmax(missing))
            when = str(bars.time[first].astype("datetime64[s]")).replace("T", " ").removesuffix(" 00:00:00")
            what = "has no volume column" if missing.all() else f"has no volume on bar {first} ({when})"
            raise SpecError(f"execution.{used[0]}", f"needs each bar's volume, but {bars.symbol} (data: "
                                                    f"{market.source}) {what}: give data with a volume for every "
                                                    f"bar, or remove execution.{used[0]}")
