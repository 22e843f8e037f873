"""The order schedule: the dense first-passage construction equals walking the bars one by one,
and the fill rules hold on hand-worked bars."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fp.orders import Tape, order_schedule
from state.market import Bars
from state.orders import ORDER_KINDS, OrderRules

OPEN, INTRABAR, CLOSE = 0, 1, 2
KIND = {name: i for i, name in enumerate(ORDER_KINDS)}


def make_bars(o, h, l, c, *, days=None):
    n = len(c)
    start = np.datetime64("2024-01-01T00:00", "ns")
    step = np.timedelta64(1, "D") if days is None else np.timedelta64(6, "h")
    return Bars("X", start + step * np.arange(n), np.array(o, float), np.array(h, float), np.array(l, float),
                np.array(c, float), np.full(n, 1e6))


def rules_of(lanes: list[dict], atr=None) -> OrderRules:
    def col(name, default, dtype=float):
        return np.array([lane.get(name, default) for lane in lanes], dtype)

    return OrderRules(col("delay", 1, np.int64), col("order_type", 0, np.int64), col("limit_offset", np.nan),
                      col("stop_offset", np.nan), col("gtc", False, bool), col("stop_loss", np.nan),
                      col("take_profit", np.nan), col("trailing_stop", np.nan), col("stop_loss_atr", np.nan),
                      col("take_profit_atr", np.nan), col("trailing_stop_atr", np.nan), col("max_holding", 0, np.int64),
                      col("target_first", False, bool), tuple(atr) if atr is not None else ())


# ---------------------------------------------------------------- the bar-by-bar reference

def walk(bars: Bars, bars_changed, targets, rule: dict, atr=None):
    """One lane's rows and expiries, found by visiting every bar in order (the rules, literally)."""
    o, h, l, c = bars.open, bars.high, bars.low, bars.close
    n = len(c)
    day = bars.day  # the trading day, in the data's own zone
    delay = rule.get("delay", 1)
    otype = rule.get("order_type", 0)
    tf = rule.get("target_first", False)
    changes = dict(zip(bars_changed.tolist(), targets.tolist()))
    change_bars = sorted(changes)
    rows, expiries = [], []
    pending = []          # market orders filling at the next open: (target, origin, opening)
    working = None        # a resting entry
    episode = None        # the open position's exit state
    previous = 0.0        # the last signal target
    stale = False         # same-side changes do nothing (after an exit or a void entry)

    def start(t, price, phase, origin, side):
        nonlocal episode
        a = atr[origin] if atr is not None else math.nan

        def dist(frac, mult):
            d = [x for x in (price * frac if frac and frac > 0 else math.nan,
                             mult * a if mult and mult > 0 else math.nan) if not math.isnan(x)]
            return min(d) if d else math.nan

        first = t + (phase == CLOSE)
        inside = phase == INTRABAR
        trail = rule.get("trailing_stop") or 0.0
        trail_d = 0.0 if trail else (rule.get("trailing_stop_atr") or 0.0) * a
        hold = rule.get("max_holding", 0)
        episode = dict(side=side, P=price, entry=t, inside=inside, origin=origin,
                       stop=price - side * dist(rule.get("stop_loss"), rule.get("stop_loss_atr")),
                       target=price + side * dist(rule.get("take_profit"), rule.get("take_profit_atr")),
                       trail=trail, trail_d=trail_d if trail_d > 0 else 0.0,
                       stop_start=first + (inside and tf), target_start=first + (inside and not tf),
                       hold=t + hold if hold else None, peak=price)

    def stop_now(e):
        """The stop level in force during this bar, and its kind (the tighter of stop-loss and trail)."""
        s = e["side"]
        level, kind = e["stop"], KIND["stop_loss"]
        if e["trail"] or e["trail_d"]:
            trail = e["peak"] * (1 - s * e["trail"]) if e["trail"] else e["peak"] - s * e["trail_d"]
            if math.isnan(level) or (trail > level if s > 0 else trail < level):
                level, kind = trail, KIND["trailing_stop"]
        return level, kind

    def exit_(t, phase, price, kind, level):
        nonlocal episode, stale
        rows.append((t, phase, price, kind != KIND["take_profit"], 0.0, kind, episode["origin"], level))
        episode = None
        stale = True

    def fill_entry(t, phase, price, w):
        nonlocal working
        rows.append((t, phase, price, w["kind"] == 2, w["target"], w["kind"], w["origin"], w["level"]))
        start(t, price, phase, w["origin"], w["side"])
        working = None

    def market(t, target, opening):
        if delay == 0:
            rows.append((t, CLOSE, c[t], True, target, 0, t, math.nan))
            if opening:
                start(t, c[t], CLOSE, t, np.sign(target))
        elif t + 1 < n:
            pending.append((target, t, opening))

    for t in range(n):
        if working is not None and t >= working["until"]:
            expiries.append((working["origin"], working["until"] - 1, working["kind"]))
            working = None
            stale = True
        # --- the open: exits of a position held from before, then market orders, then resting entries
        e = episode
        if e is not None:
            s = e["side"]
            if e["hold"] == t and delay == 1:
                exit_(t, OPEN, o[t], KIND["max_holding"], math.nan)
            else:
                level, kind = stop_now(e)
                if t >= e["stop_start"] and (o[t] <= level if s > 0 else o[t] >= level):
                    exit_(t, OPEN, o[t], kind, level)
                elif t >= e["target_start"] and (o[t] >= e["target"] if s > 0 else o[t] <= e["target"]):
                    exit_(t, OPEN, o[t], KIND["take_profit"], e["target"])
        for target, origin, opening in pending:
            if stale and not opening and target != 0.0:
                continue
            rows.append((t, OPEN, o[t], True, target, 0, origin, math.nan))
            if opening:
                start(t, o[t], OPEN, origin, np.sign(target))
        pending = []
        w = working
        if w is not None and t >= w["from"]:
            s = w["side"]
            beyond = lambda price, level: price <= level if s > 0 else price >= level  # noqa: E731  (limit side)
            through = lambda price, level: price >= level if s > 0 else price <= level  # noqa: E731  (stop side)
            if w["kind"] == 1:
                if beyond(o[t], w["level"]):
                    fill_entry(t, OPEN, o[t], w)
                elif beyond(l[t] if s > 0 else h[t], w["level"]):
                    fill_entry(t, INTRABAR, w["level"], w)
            elif w["kind"] == 2:
                if through(o[t], w["stop"]):
                    fill_entry(t, OPEN, o[t], w)
                elif through(h[t] if s > 0 else l[t], w["stop"]):
                    fill_entry(t, INTRABAR, w["stop"], w)
            elif w.get("triggered") is None:  # stop-limit waiting for its stop
                if through(o[t], w["stop"]):
                    if beyond(o[t], w["level"]):
                        fill_entry(t, OPEN, o[t], w)
                    else:
                        w["triggered"] = t
                elif through(h[t] if s > 0 else l[t], w["stop"]):
                    fill_entry(t, INTRABAR, w["stop"], w)  # the stop is within its own limit
            elif w["triggered"] < t:  # a triggered stop-limit rests as a limit
                if beyond(o[t], w["level"]):
                    fill_entry(t, OPEN, o[t], w)
                elif beyond(l[t] if s > 0 else h[t], w["level"]):
                    fill_entry(t, INTRABAR, w["level"], w)
        # --- inside the bar: the position's stops and take-profit
        e = episode
        if e is not None:
            s = e["side"]
            level, kind = stop_now(e)
            hit_stop = t >= e["stop_start"] and (l[t] <= level if s > 0 else h[t] >= level)
            hit_target = t >= e["target_start"] and (h[t] >= e["target"] if s > 0 else l[t] <= e["target"])
            if hit_stop and not (hit_target and tf):
                exit_(t, INTRABAR, level, kind, level)
            elif hit_target:
                exit_(t, INTRABAR, e["target"], KIND["take_profit"], e["target"])
            elif e["hold"] == t and delay == 0:
                exit_(t, CLOSE, c[t], KIND["max_holding"], math.nan)
            if episode is not None and t >= e["stop_start"]:
                e["peak"] = max(e["peak"], h[t]) if s > 0 else min(e["peak"], l[t])
        # --- the close: a signal change
        if t in changes:
            target = changes[t]
            side, before = np.sign(target), np.sign(previous)
            previous = target
            opening = side != 0 and side != before
            if working is not None:
                expiries.append((working["origin"], t, working["kind"]))
                working = None
                stale = True
            if side != before:
                episode = None
                stale = False
            if opening and otype != 0:
                if before != 0:
                    market(t, 0.0, False)
                if t + 1 < n:
                    lo, so = rule.get("limit_offset") or 0.0, rule.get("stop_offset") or 0.0
                    stop = c[t] * (1 + side * so)
                    level = stop * (1 + side * lo) if otype == 3 else stop if otype == 2 else c[t] * (1 - side * lo)
                    later = [b for b in change_bars if b > t]
                    until = min(later[0] + 1, n) if later else n
                    if not rule.get("gtc", False):
                        until = min(until, int(np.searchsorted(day, day[t + 1], side="right")))
                    working = {"kind": otype, "side": side, "stop": stop, "level": level, "target": target,
                               "origin": t, "from": t + 1, "until": until}
            elif not (stale and not opening and target != 0.0):
                market(t, target, opening)
    if working is not None:
        expiries.append((working["origin"], working["until"] - 1, working["kind"]))
    return rows, expiries


def schedule_rows(schedule, lane):
    keep = schedule.lane == lane
    return list(zip(*(getattr(schedule, f)[keep].tolist() for f in
                      ("bar", "phase", "price", "slipped", "target", "kind", "origin", "level"))))


def same(a, b):
    return len(a) == len(b) and all(
        all((x == y) or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
            for x, y in zip(r, q)) for r, q in zip(a, b))


# ---------------------------------------------------------------- generated markets and lanes

@st.composite
def markets(draw, min_bars=3, max_bars=60):
    n = draw(st.integers(min_bars, max_bars))
    moves = draw(st.lists(st.integers(-4, 4), min_size=n, max_size=n))
    close = 100.0 + np.cumsum(moves).astype(float)
    gaps = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
    opens = np.concatenate(([100.0], close[:-1])) + np.array(gaps, float)
    up = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), float)
    down = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), float)
    high = np.maximum(opens, close) + up
    low = np.minimum(opens, close) - down
    intraday = draw(st.booleans())
    return make_bars(opens, high, low, close, days=1 if intraday else None)


@st.composite
def lanes(draw, n):
    k = draw(st.integers(0, min(8, n)))
    bars = np.array(sorted(draw(st.sets(st.integers(0, n - 1), min_size=k, max_size=k))), np.int64)
    targets, last = [], 0.0
    for _ in bars:
        t = draw(st.sampled_from([x for x in (-1.0, -0.5, 0.0, 0.5, 1.0) if x != last]))
        targets.append(t)
        last = t
    frac = st.one_of(st.none(), st.sampled_from([0.01, 0.02, 0.03, 0.05]))
    rule = {
        "delay": draw(st.sampled_from([0, 1])),
        "order_type": draw(st.integers(0, 3)),
        "limit_offset": draw(st.sampled_from([0.0, 0.01, 0.02])),
        "stop_offset": draw(st.sampled_from([0.0, 0.01, 0.02])),
        "gtc": draw(st.booleans()),
        "stop_loss": draw(frac), "take_profit": draw(frac), "trailing_stop": draw(frac),
        "stop_loss_atr": draw(st.one_of(st.none(), st.sampled_from([1.0, 2.0]))),
        "take_profit_atr": draw(st.one_of(st.none(), st.sampled_from([1.0, 3.0]))),
        "trailing_stop_atr": draw(st.one_of(st.none(), st.sampled_from([1.5]))),
        "max_holding": draw(st.sampled_from([0, 1, 2, 5])),
        "target_first": draw(st.booleans()),
    }
    return bars, np.array(targets), {k: (np.nan if v is None else v) for k, v in rule.items()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_schedule_equals_walking_the_bars(data):
    bars = data.draw(markets())
    n = len(bars)
    drawn = [data.draw(lanes(n)) for _ in range(data.draw(st.integers(1, 4)))]
    atr = np.abs(np.sin(np.arange(n))) * 3.0 + 0.5
    rules = rules_of([r for _, _, r in drawn], atr=[atr] * len(drawn))
    schedule, expired = order_schedule([(b, t) for b, t, _ in drawn], rules, Tape.of(bars))
    for lane, (b, t, rule) in enumerate(drawn):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rule.items()}
        rows, expiries = walk(bars, b, t, clean, atr)
        got = schedule_rows(schedule, lane)
        assert same(got, rows), (lane, clean, got, rows)
        keep = expired.lane == lane
        assert sorted(zip(expired.bar[keep].tolist(), expired.until[keep].tolist(), expired.kind[keep].tolist())) == \
            sorted(expiries)


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_fill_is_inside_its_bar(data):
    bars = data.draw(markets())
    n = len(bars)
    drawn = [data.draw(lanes(n)) for _ in range(3)]
    rules = rules_of([r for _, _, r in drawn], atr=[np.full(n, 2.0)] * 3)
    schedule, _ = order_schedule([(b, t) for b, t, _ in drawn], rules, Tape.of(bars))
    assert np.all(schedule.price >= bars.low[schedule.bar])
    assert np.all(schedule.price <= bars.high[schedule.bar])


# ---------------------------------------------------------------- hand-worked bars

def one_lane(o, h, l, c, change_bars, targets, **rule):
    bars = make_bars(o, h, l, c)
    schedule, expired = order_schedule([(np.array(change_bars), np.array(targets, float))], rules_of([rule]),
                                       Tape.of(bars))
    return [(b, ORDER_KINDS[k], p, round(x, 6)) for b, k, p, x in
            zip(schedule.bar.tolist(), schedule.kind.tolist(), schedule.phase.tolist(), schedule.price.tolist())], expired


def test_a_limit_buy_fills_at_the_limit_or_at_a_better_open():
    # signal at the close of bar 0 (100); limit 2 % below: 98
    rows, _ = one_lane([100, 99, 99], [101, 101, 100], [99, 97, 98], [100, 100, 99], [0], [1.0],
                       order_type=1, limit_offset=0.02)
    assert [(1, "limit", INTRABAR, 98.0)] == rows
    rows, _ = one_lane([100, 96, 99], [101, 97, 100], [99, 95, 98], [100, 96, 99], [0], [1.0],
                       order_type=1, limit_offset=0.02)
    assert [(1, "limit", OPEN, 96.0)] == rows  # gapped below the limit: the open is better


def test_a_stop_buy_fills_at_the_stop_or_at_the_open_after_a_gap():
    rows, _ = one_lane([100, 100, 100], [101, 102, 100], [99, 99, 98], [100, 101, 99], [0], [1.0],
                       order_type=2, stop_offset=0.01)
    assert [(1, "stop", INTRABAR, 101.0)] == rows
    rows, _ = one_lane([100, 103, 100], [101, 104, 100], [99, 102, 98], [100, 103, 99], [0], [1.0],
                       order_type=2, stop_offset=0.01)
    assert [(1, "stop", OPEN, 103.0)] == rows


def test_a_stop_limit_gapping_past_its_limit_rests_as_a_limit():
    # stop 101, limit 1 % above the stop: 102.01; bar 1 opens at 103 (past the limit): no fill there
    rows, _ = one_lane([100, 103, 102.5], [101, 104, 103], [99, 102.5, 101.5], [100, 103, 102], [0], [1.0],
                       order_type=3, stop_offset=0.01, limit_offset=0.01, gtc=True)
    assert [(2, "stop_limit", INTRABAR, 102.01)] == rows


def test_a_day_order_expires_after_its_trading_day():
    rows, expired = one_lane([100, 100, 97], [101, 100.5, 98], [99, 99.5, 96], [100, 100, 97], [0], [1.0],
                             order_type=1, limit_offset=0.02)
    assert [] == rows and [(0, 1)] == list(zip(expired.bar.tolist(), expired.until.tolist()))
    rows, _ = one_lane([100, 100, 97], [101, 100.5, 98], [99, 99.5, 96], [100, 100, 97], [0], [1.0],
                       order_type=1, limit_offset=0.02, gtc=True)
    assert [(2, "limit", OPEN, 97.0)] == rows  # good till cancelled: bar 2 opens below 98


def test_stop_loss_fills_at_its_level_or_at_the_open_after_a_gap():
    # entry at the open of bar 1 (100); stop 5 % below: 95
    rows, _ = one_lane([100, 100, 96], [101, 101, 97], [99, 99, 94], [100, 100, 95], [0], [1.0], stop_loss=0.05)
    assert [(1, "market", OPEN, 100.0), (2, "stop_loss", INTRABAR, 95.0)] == rows
    rows, _ = one_lane([100, 100, 93], [101, 101, 94], [99, 99, 92], [100, 100, 93], [0], [1.0], stop_loss=0.05)
    assert [(1, "market", OPEN, 100.0), (2, "stop_loss", OPEN, 93.0)] == rows


@pytest.mark.parametrize("case, o, h, l, c, target, rule, expected", [
    # entries the bar opens through (signal at bar 0's close, 100)
    ("a sell stop 1 % below, the next bar opens at 97", [100, 97, 97], [101, 98, 98], [99, 96, 96], [100, 97, 97],
     -1.0, {"order_type": 2, "stop_offset": 0.01}, [(1, "stop", OPEN, 97.0)]),
    ("a sell limit 2 % above, the next bar opens at 104: better", [100, 104, 103], [101, 105, 104],
     [99, 103, 102], [100, 104, 103], -1.0, {"order_type": 1, "limit_offset": 0.02}, [(1, "limit", OPEN, 104.0)]),
    # exits the bar opens through (entry at bar 1's open, 100)
    ("a short's stop-loss at 105, bar 2 opens at 107", [100, 100, 107], [101, 101, 108], [99, 99, 106],
     [100, 100, 107], -1.0, {"stop_loss": 0.05}, [(1, "market", OPEN, 100.0), (2, "stop_loss", OPEN, 107.0)]),
    ("a long's trailing stop at 90, bar 2 opens at 85", [100, 100, 85], [101, 100, 86], [99, 99, 84],
     [100, 100, 85], 1.0, {"trailing_stop": 0.1}, [(1, "market", OPEN, 100.0), (2, "trailing_stop", OPEN, 85.0)]),
    ("a short's trailing stop at 110, bar 2 opens at 115", [100, 100, 115], [101, 101, 116], [99, 100, 114],
     [100, 100, 115], -1.0, {"trailing_stop": 0.1}, [(1, "market", OPEN, 100.0), (2, "trailing_stop", OPEN, 115.0)]),
    ("a long's take-profit at 110, bar 2 opens at 112: better", [100, 100, 112], [101, 101, 113], [99, 99, 111],
     [100, 100, 112], 1.0, {"take_profit": 0.1}, [(1, "market", OPEN, 100.0), (2, "take_profit", OPEN, 112.0)]),
    ("a short's take-profit at 90, bar 2 opens at 88: better", [100, 100, 88], [101, 101, 89], [99, 99, 87],
     [100, 100, 88], -1.0, {"take_profit": 0.1}, [(1, "market", OPEN, 100.0), (2, "take_profit", OPEN, 88.0)]),
])
def test_a_level_the_bar_opens_through_fills_at_the_open(case, o, h, l, c, target, rule, expected):
    rows, _ = one_lane(o, h, l, c, [0], [target], **rule)
    assert expected == rows, case


def test_a_bar_reaching_stop_and_target_exits_at_the_stop_unless_target_first():
    o, h, l, c = [100, 100, 100], [101, 101, 111], [99, 99, 94], [100, 100, 100]
    rows, _ = one_lane(o, h, l, c, [0], [1.0], stop_loss=0.05, take_profit=0.1)
    assert (2, "stop_loss", INTRABAR, 95.0) == rows[-1]
    rows, _ = one_lane(o, h, l, c, [0], [1.0], stop_loss=0.05, take_profit=0.1, target_first=True)
    assert (2, "take_profit", INTRABAR, 110.0) == rows[-1]


def test_a_trailing_stop_follows_the_highs_of_earlier_bars():
    # entry 100 at bar 1's open; highs 105 then 120; bar 4 trades down to 107: trail 120 × 0.9 = 108
    rows, _ = one_lane([100, 100, 104, 119, 115], [101, 105, 120, 121, 116], [99, 99, 103, 112, 107],
                       [100, 104, 119, 115, 108], [0], [1.0], trailing_stop=0.1)
    assert (4, "trailing_stop", INTRABAR, 108.9) == rows[-1]  # bar 3's high 121 raised the trail to 108.9


def test_max_holding_closes_at_the_open_n_bars_after_entry():
    rows, _ = one_lane([100] * 6, [101] * 6, [99] * 6, [100] * 6, [0], [1.0], max_holding=3)
    assert [(1, "market", OPEN, 100.0), (4, "max_holding", OPEN, 100.0)] == rows


def test_after_an_exit_same_side_changes_do_not_reenter():
    o, h, l, c = [100] * 3 + [94] + [100] * 4, [101] * 3 + [95] + [101] * 4, [99] * 3 + [90] + [99] * 4, \
        [100] * 3 + [94] + [100] * 4
    rows, _ = one_lane(o, h, l, c, [0, 4, 6], [1.0, 0.5, -1.0], stop_loss=0.05)
    assert [(1, "market"), (3, "stop_loss"), (7, "market")] == [(b, k) for b, k, _, _ in rows]
