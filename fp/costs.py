"""Transaction costs: commissions, slippage and market impact, and the size a budget affords.

Pure and vectorised over rows. A :class:`CostModel` holds one row per lane (or per order); every
array argument of the functions here is 1-D over the same rows or broadcasts against them (a
scalar, or a one-row model against many rows). Nothing loops over rows in Python.

The cost functions, with ``side`` = +1 for a buy and -1 for a sell and ``q = |quantity|``:

* ``fill_price = clip(reference * (1 + side * slippage) + side * slippage_fixed
  + side * reference * impact * q / volume, low, high)``. Impact is linear in the participation
  ``q / volume``; a bar whose ``volume`` is not positive (0, or NaN: unknown) has no liquidity,
  so with ``impact > 0`` any ``q > 0`` fills at the bar's worst price (``high`` for a buy,
  ``low`` for a sell: the unbounded impact clipped to the bar).
* ``commission = 0`` where ``q == 0``, else ``max(minimum, tier_rate(notional) * notional
  + per_share * q + fixed)`` with ``notional = q * price``. ``tier_rate`` is ``tier_rates[k]``
  for the largest ``k`` with ``tier_bounds[k] <= notional``; a row without tiers has the single
  tier ``(0, rate)``: tiers replace ``rate`` (see :class:`CostModel`).
* ``cost(q) = q * fill_price(q) + commission(q, fill_price(q))``: what a fill of ``q`` units
  costs. :func:`affordable_units` is the largest ``q`` whose cost fits a budget.
* :func:`fillable_units` ``= sign(wanted) * min(|wanted|, participation * volume)``: the part of
  an order one bar can fill; the engine fills the rest on the following bars. A bar without
  volume (0 or NaN) has no capacity: a capped order fills nothing there.

Laws, for models built by :meth:`CostModel.of` (non-negative parameters), positive prices and
``low <= high`` (each one a property test in ``tests/fp/test_costs.py``):

1. In the bar: ``low <= fill_price <= high``.
2. Against the trader: a buy's fill price is ``>= clip(reference, low, high)`` and a sell's
   ``<=`` it; as ``|quantity|`` grows a buy's price never falls and a sell's never rises. Both
   hold exactly in floating point (every step is a monotone rounding of a monotone operation).
3. Commission is 0 exactly where ``quantity == 0``, and ``>= minimum`` elsewhere. A
   proportional model (only ``rate``) charges ``|quantity| * price * rate`` bit for bit, the
   engine's arithmetic.
4. Affordable: :func:`affordable_units` is ``>= 0``, 0 where ``budget <= 0``, a whole number on
   whole rows, and (outside the fast path) its cost fits the budget while one more unit (whole
   rows) or the next larger float (fractional rows, so the result is within one ulp of the
   supremum) does not — with the one documented exception of a sell whose impact drives its
   price below half its slipped price (sizing stops where its notional peaks).
5. Monotone: more budget never gives fewer units.
6. Fast path: on rows that use only ``rate`` (and proportional ``slippage``), whole rows get
   ``np.floor_divide(budget, reference * (1 + rate))`` and fractional rows
   ``budget / (reference * (1 + rate))``, bit for bit, floored at 0.
7. Fillable: ``fillable_units`` keeps the sign of ``wanted``, never exceeds ``|wanted|``, never
   exceeds ``participation * volume``, and is 0 on a capped row whose bar has no volume.
"""
from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from state.errors import AdmfError

__all__ = ["CostModel", "CostModelError", "affordable_units", "commission", "fill_price", "fillable_units"]

#: Whole-unit sizes are exact floats only up to 2**53; larger counts are not searched.
_MAX_WHOLE = 2**53
#: Search modes of :func:`_largest_true`.
_UP, _DOWN, _BISECT = 0, 1, 2


class CostModelError(AdmfError, ValueError):
    """An argument of :meth:`CostModel.of` is invalid; the message names it and its value."""


def _facts(model: CostModel) -> frozenset:
    single = _single_tier(model.tier_bounds)
    proportional = single & (model.per_share == 0.0) & (model.minimum == 0.0) & (model.fixed == 0.0)
    no_shift = (model.slippage_fixed == 0.0) & (model.impact == 0.0)
    facts = {
        "proportional": bool(np.all(proportional)),
        "rate_only": bool(np.all(proportional & no_shift)),
        "no_slippage": bool(np.all(no_shift & (model.slippage == 0.0))),
        "uncapped": bool(np.all(np.isinf(model.participation))),
    }
    return frozenset(k for k, v in facts.items() if v)


@attrs.frozen(eq=False)
class CostModel:
    """Commission, slippage, impact and participation of each row (lane or order).

    Every field is a float64 array whose leading axis is the rows:

    * ``rate`` — commission as a fraction of notional (0.002 = 0.2 %); on a tiered row, the rate
      of its first tier (``rate == tier_rates[:, 0]`` always holds);
    * ``per_share`` — commission per unit traded;
    * ``minimum`` — minimum commission of a fill (only when a fill happens, ``quantity != 0``);
    * ``fixed`` — fixed fee per fill;
    * ``tier_bounds``, ``tier_rates`` — (rows × K): a fill of notional ``N`` pays the rate
      ``tier_rates[row, k]`` for the largest ``k`` with ``tier_bounds[row, k] <= N``. Bounds
      ascend strictly from 0; unused tiers are padded with ``+inf`` bounds. A row without tiers
      has the single tier ``(0, rate)``: tiers *replace* ``rate``, they do not add to it;
    * ``slippage`` — fraction of the reference price against the trader (``bps / 1e4``);
    * ``slippage_fixed`` — price units per unit against the trader;
    * ``impact`` — the price moves against the trader by ``reference * impact * |q| / volume``
      (to the bar's worst price where the bar has no volume);
    * ``participation`` — cap on ``|q| / volume`` of one bar's fill (``inf`` = no cap; a bar
      without volume fills nothing).

    ``uniform`` records facts that hold for every row, derived at construction and valid for any
    subset of rows; the functions use them to skip work that is the identity for every row:

    * ``"proportional"`` — one tier and no ``per_share``, ``minimum``, ``fixed``: commission is
      ``|q| * price * rate``;
    * ``"rate_only"`` — proportional, and no ``slippage_fixed`` or ``impact``: the fast path of
      :func:`affordable_units` for every row;
    * ``"no_slippage"`` — no ``slippage``, ``slippage_fixed`` or ``impact``: the fill price is the
      reference clipped to the bar;
    * ``"uncapped"`` — no participation cap: :func:`fillable_units` is the identity.

    Build models with :meth:`of`, which validates and pads; the constructor trusts its arrays.

    >>> m = CostModel.of(rate=[0.001, 0.0], tiers=[None, [(0, 0.003), (10_000, 0.002)]])
    >>> m.tier_bounds.tolist(), m.tier_rates.tolist(), m.rate.tolist()
    ([[0.0, inf], [0.0, 10000.0]], [[0.001, 0.001], [0.003, 0.002]], [0.001, 0.003])
    >>> sorted(CostModel.of(rate=0.002, slippage=0.001).uniform)
    ['proportional', 'rate_only', 'uncapped']
    """

    rate: np.ndarray
    per_share: np.ndarray
    minimum: np.ndarray
    fixed: np.ndarray
    tier_bounds: np.ndarray
    tier_rates: np.ndarray
    slippage: np.ndarray
    slippage_fixed: np.ndarray
    impact: np.ndarray
    participation: np.ndarray
    uniform: frozenset = attrs.field(default=None, converter=attrs.Converter(
        lambda value, self: _facts(self) if value is None else value, takes_self=True))

    @classmethod
    def of(
        cls,
        *,
        rate=0.0,
        per_share=0.0,
        minimum=0.0,
        fixed=0.0,
        tiers: Sequence | None = None,
        slippage=0.0,
        slippage_fixed=0.0,
        impact=0.0,
        participation=np.inf,
        rows: int | None = None,
    ) -> CostModel:
        """A validated model; each argument is a number (every row) or a 1-D sequence (one per row).

        The number of rows is ``rows`` when given, else the length of the sequences among the
        arguments (they must agree), else 1. Defaults: no commission, no slippage, no impact,
        no participation cap (``inf``).

        ``tiers`` is ``None`` (no row is tiered) or a sequence with one entry per row (a single
        entry applies to every row), each ``None`` or a sequence of ``(bound, rate)`` pairs: the
        first bound 0, bounds strictly ascending and finite, rates ``>= 0``. Tiers replace
        ``rate``: a tiered row's ``rate`` must be 0 (it becomes its first tier's rate) or already
        equal that rate. ``slippage`` must lie in ``[0, 1)``, ``participation`` be ``> 0``, and
        every other argument be finite and ``>= 0``; a violation raises :class:`CostModelError`
        naming the argument, the row and the value.

        >>> CostModel.of(per_share=0.005, minimum=1.0).minimum.tolist()
        [1.0]
        >>> CostModel.of(rate=-0.1)
        Traceback (most recent call last):
        ...
        fp.costs.CostModelError: rate=-0.1: must be a finite number >= 0
        """
        given = {
            "rate": rate, "per_share": per_share, "minimum": minimum, "fixed": fixed, "slippage": slippage,
            "slippage_fixed": slippage_fixed, "impact": impact, "participation": participation,
        }
        columns = {name: _column(name, value) for name, value in given.items()}
        n = _row_count(rows, columns, tiers)
        for name, column in columns.items():
            bad = _invalid(name, column)
            if np.any(bad):
                i = int(np.flatnonzero(np.broadcast_to(bad, column.shape))[0]) if column.ndim else None
                where = name if i is None else f"{name}[{i}]"
                value = float(column if i is None else column[i])
                raise CostModelError(f"{where}={value!r}: {_RULES[name]}")
        col = {name: np.array(np.broadcast_to(c, (n,)), dtype=np.float64) for name, c in columns.items()}
        bounds, rates = _tier_table(tiers, col["rate"], n)
        return cls(col["rate"], col["per_share"], col["minimum"], col["fixed"], bounds, rates, col["slippage"],
                   col["slippage_fixed"], col["impact"], col["participation"])

    @property
    def rate_only(self) -> np.ndarray:
        """Per row: the row uses only ``rate`` (and ``slippage``) — the fast path of :func:`affordable_units`.

        True where the row has one tier and ``per_share``, ``minimum``, ``fixed``,
        ``slippage_fixed`` and ``impact`` are 0.

        >>> CostModel.of(rate=0.002, per_share=[0.0, 0.01]).rate_only.tolist()
        [True, False]
        """
        return (_single_tier(self.tier_bounds) & (self.per_share == 0.0) & (self.minimum == 0.0)
                & (self.fixed == 0.0) & (self.slippage_fixed == 0.0) & (self.impact == 0.0))

    def rows(self, index) -> CostModel:
        """The model of the rows selected by ``index`` (a slice, an integer array or an int)."""
        if isinstance(index, (int, np.integer)):
            index = np.array([index])
        return CostModel(*(getattr(self, f.name)[index] for f in attrs.fields(CostModel)[:-1]), uniform=self.uniform)

    def __len__(self) -> int:
        return int(self.rate.shape[0])


_RULES = {
    "rate": "must be a finite number >= 0",
    "per_share": "must be a finite number >= 0",
    "minimum": "must be a finite number >= 0",
    "fixed": "must be a finite number >= 0",
    "slippage": "must be a fraction in [0, 1) (bps / 1e4)",
    "slippage_fixed": "must be a finite number >= 0",
    "impact": "must be a finite number >= 0",
    "participation": "must be > 0 (inf = no cap)",
}


def _column(name: str, value) -> np.ndarray:
    try:
        column = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CostModelError(f"{name}={value!r}: must be a number or a 1-D sequence of numbers (one per row)") from None
    if column.ndim > 1:
        raise CostModelError(f"{name}: must be a number or a 1-D sequence (one per row), got shape {column.shape}")
    return column


def _invalid(name: str, column: np.ndarray) -> np.ndarray:
    if name == "participation":
        return ~(column > 0.0)
    if name == "slippage":
        return ~((column >= 0.0) & (column < 1.0))
    return ~(np.isfinite(column) & (column >= 0.0))


def _row_count(rows: int | None, columns: dict, tiers) -> int:
    lengths = {name: len(c) for name, c in columns.items() if c.ndim == 1 and len(c) != 1}
    if tiers is not None and len(tiers) != 1:
        lengths["tiers"] = len(tiers)
    if rows is not None:
        if not (isinstance(rows, (int, np.integer)) and rows >= 1):
            raise CostModelError(f"rows={rows!r}: must be a positive integer")
        wrong = {k: v for k, v in lengths.items() if v != rows}
        if wrong:
            name, length = next(iter(wrong.items()))
            raise CostModelError(f"{name} has {length} rows, rows={rows}: give one value per row or a single value")
        return int(rows)
    if len(set(lengths.values())) > 1:
        described = ", ".join(f"{k} has {v}" for k, v in lengths.items())
        raise CostModelError(f"per-row arguments disagree on the number of rows: {described}")
    return next(iter(lengths.values()), 1)


def _tier_table(tiers, rate: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    per_row = [None] * n if tiers is None else (list(tiers) * n if len(tiers) == 1 else list(tiers))
    schedules = [None if t is None else _schedule(i, t, rate[i]) for i, t in enumerate(per_row)]
    k = max((len(s[0]) for s in schedules if s is not None), default=1)
    bounds = np.full((n, k), np.inf)
    bounds[:, 0] = 0.0
    rates = np.repeat(rate[:, None], k, axis=1)
    for i, schedule in enumerate(schedules):
        if schedule is not None:
            b, r = schedule
            bounds[i, : len(b)] = b
            rates[i, : len(r)] = r
            rates[i, len(r):] = r[-1]
            rate[i] = r[0]
    return bounds, rates


def _schedule(i: int, pairs, rate: float) -> tuple[np.ndarray, np.ndarray]:
    try:
        table = np.asarray(pairs, dtype=np.float64)
    except (TypeError, ValueError):
        table = np.empty(0)
    if table.ndim != 2 or table.shape[1] != 2 or not len(table):
        raise CostModelError(f"tiers[{i}]={pairs!r}: must be None or a non-empty sequence of (bound, rate) pairs "
                             f"(for one schedule on every row write tiers=[schedule])")
    bounds, rates = table[:, 0], table[:, 1]
    if bounds[0] != 0.0 or not np.all(np.isfinite(bounds)) or np.any(np.diff(bounds) <= 0.0):
        raise CostModelError(f"tiers[{i}] bounds={bounds.tolist()}: must start at 0 and ascend strictly, all finite")
    if not np.all(np.isfinite(rates) & (rates >= 0.0)):
        raise CostModelError(f"tiers[{i}] rates={rates.tolist()}: must be finite numbers >= 0")
    if rate != 0.0 and rate != rates[0]:
        raise CostModelError(f"rate[{i}]={float(rate)!r}: tiers replace rate; give rate 0 for a tiered row "
                             f"(it takes its first tier's rate, {float(rates[0])!r})")
    return bounds, rates


def _single_tier(bounds: np.ndarray) -> np.ndarray:
    return np.all(np.isinf(bounds[:, 1:]), axis=1)


# ---- the cost functions ------------------------------------------------------------------------

def _price(slippage, slippage_fixed, impact, side, reference, size, volume, low, high):
    """The fill price of ``size = |quantity|`` units; the one formula every caller shares."""
    base = reference * (1.0 + side * slippage) + side * slippage_fixed
    with np.errstate(divide="ignore", invalid="ignore"):
        participation = np.where(volume > 0.0, size / volume, np.where(size > 0.0, np.inf, 0.0))  # no volume: no liquidity
        shift = np.where(impact > 0.0, reference * impact * participation, 0.0)
    return np.minimum(np.maximum(base + side * shift, low), high)


def _fee(rate, per_share, minimum, fixed, size, notional):
    """The commission of ``size = |quantity|`` units of ``notional``, given the tier's rate."""
    return np.where(size != 0.0, np.maximum(minimum, rate * notional + per_share * size + fixed), 0.0)


def _tier_rate(bounds: np.ndarray, rates: np.ndarray, notional) -> np.ndarray:
    if bounds.shape[1] == 1:
        return rates[:, 0]
    notional = np.asarray(notional)
    shape = np.broadcast_shapes(notional.shape, bounds.shape[:1])
    bounds = np.broadcast_to(bounds, shape + bounds.shape[1:])
    k = np.count_nonzero(bounds <= np.broadcast_to(notional, shape)[:, None], axis=1) - 1
    return np.take_along_axis(np.broadcast_to(rates, bounds.shape), np.maximum(k, 0)[:, None], axis=1)[:, 0]


def fill_price(model: CostModel, side, reference, quantity, volume, low, high) -> np.ndarray:
    """The price a fill of ``quantity`` units gets: reference moved against the trader, clipped to the bar.

    ``reference * (1 + side * slippage) + side * slippage_fixed + side * reference * impact *
    |quantity| / volume``, clipped to ``[low, high]``; ``side`` is +1 (buy) or -1 (sell). A bar
    whose ``volume`` is not positive (0, NaN: unknown) has no liquidity: with ``impact > 0`` a
    fill of any size gets the bar's worst price (the unbounded impact, clipped). Laws (exact in floats, for non-negative parameters, ``reference >= 0``, ``low <=
    high``): the price lies in ``[low, high]``; a buy's is ``>= clip(reference, low, high)`` and
    a sell's ``<=`` it; a buy's never falls and a sell's never rises as ``|quantity|`` grows.

    >>> m = CostModel.of(slippage=0.001, slippage_fixed=0.01, impact=0.1)
    >>> fill_price(m, 1.0, 100.0, 500.0, 10_000.0, 90.0, 110.0).round(10).tolist()  # 100.1 + 0.01 + 0.5
    [100.61]
    >>> fill_price(m, 1.0, 100.0, 500.0, 10_000.0, 90.0, 100.5).tolist()  # clipped to the bar's high
    [100.5]
    >>> fill_price(m, -1.0, 100.0, 500.0, 0.0, 90.0, 110.0).tolist()  # no volume, no liquidity: the bar's low
    [90.0]

    See Also: :func:`commission`, :func:`affordable_units`.
    """
    if "no_slippage" in model.uniform:
        price = np.minimum(np.maximum(reference, low), high)
        shape = np.broadcast_shapes(np.shape(side), np.shape(quantity), np.shape(volume), price.shape, model.rate.shape)
        return price if price.shape == shape else np.broadcast_to(price, shape).copy()
    return _price(model.slippage, model.slippage_fixed, model.impact, side, reference, np.abs(quantity), volume,
                  low, high)


def commission(model: CostModel, quantity, price) -> np.ndarray:
    """The commission of filling ``quantity`` units at ``price``: 0 where nothing is filled.

    ``max(minimum, tier_rate(notional) * notional + per_share * |quantity| + fixed)`` with
    ``notional = |quantity| * price``, and 0 where ``quantity == 0`` (the minimum and the fixed
    fee apply only to fills). A proportional model charges ``|quantity| * price * rate``, the
    engine's arithmetic, bit for bit.

    >>> m = CostModel.of(per_share=0.005, minimum=1.0)
    >>> commission(m, np.array([0.0, 100.0, -1000.0]), 50.0).tolist()
    [0.0, 1.0, 5.0]
    >>> tiered = CostModel.of(tiers=[[(0, 0.003), (10_000, 0.002), (50_000, 0.001)]])
    >>> commission(tiered, np.array([100.0, 200.0, 2000.0]), 50.0).round(10).tolist()
    [15.0, 20.0, 100.0]

    See Also: :func:`fill_price`, :func:`affordable_units`.
    """
    size = np.abs(quantity)
    notional = size * price
    if "proportional" in model.uniform:
        return notional * model.rate
    rate = _tier_rate(model.tier_bounds, model.tier_rates, notional)
    return _fee(rate, model.per_share, model.minimum, model.fixed, size, notional)


def fillable_units(model: CostModel, wanted, volume, *, whole=False) -> np.ndarray:
    """The part of an order of ``wanted`` units (signed) that one bar fills.

    ``sign(wanted) * min(|wanted|, participation * volume)``; with ``whole`` (per row or for all)
    the cap ``participation * volume`` is floored to whole units (``wanted`` is taken as given).
    A bar whose ``volume`` is not positive (0, NaN: unknown) has no capacity: a capped row
    fills nothing there (an uncapped row, ``participation = inf``, fills ``wanted``). Laws: the
    sign of ``wanted`` is kept, ``|fillable| <= |wanted|``, ``|fillable| <= participation *
    volume``, and 0 where a capped row's bar has no volume.

    >>> m = CostModel.of(participation=0.1)
    >>> fillable_units(m, np.array([500.0, -500.0, 50.0, 500.0]), np.array([1234.0, 1234.0, 1234.0, 0.0]),
    ...                whole=True).tolist()
    [123.0, -123.0, 50.0, 0.0]

    See Also: :func:`affordable_units`.
    """
    wanted = np.asarray(wanted, dtype=np.float64)
    if "uncapped" in model.uniform:
        return wanted
    volume = np.asarray(volume, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        cap = np.where(np.isinf(model.participation), np.inf,
                       np.where(volume > 0.0, model.participation * volume, 0.0))  # no volume: no capacity
    if np.any(whole):
        cap = np.where(whole, np.floor(cap), cap)
    return np.copysign(np.minimum(np.abs(wanted), cap), wanted)


# ---- affordable size ---------------------------------------------------------------------------

def affordable_units(model: CostModel, budget, reference, side, volume, low, high, whole) -> np.ndarray:
    """The largest size ``q >= 0`` whose cost fits ``budget``: ``q * p + commission(q, p) <= budget``
    with ``p = fill_price(model, side, reference, q, volume, low, high)``.

    Whole units where ``whole`` is true for the row, fractional elsewhere; 0 where the budget is
    ``<= 0``. ``side`` is +1 (a buy) or -1 (a sell; any negative value sells). Participation caps
    are not applied here (see :func:`fillable_units`).

    **Fast path** (rows where ``model.rate_only``: one tier, and ``per_share``, ``minimum``,
    ``fixed``, ``slippage_fixed`` and ``impact`` all 0; ``slippage`` may be anything): the
    caller passes the price the fill gets — already slipped and clipped, as ``FillQuote``'s
    buy or sell price — as ``reference``, and ``side``, ``volume``, ``low``, ``high`` and
    ``slippage`` are not read. Whole rows get ``np.floor_divide(budget, reference * (1.0 +
    rate))``, fractional rows ``budget / (reference * (1.0 + rate))``, both floored at 0 with
    ``np.maximum(units, 0.0)`` — today's engine arithmetic bit for bit (it floors at 0 the
    same way; a NaN budget stays NaN). A row's path depends on that row alone, so a lane sized
    in a sweep gets the same units as alone.

    **Every other row** takes ``reference`` before slippage, and the result is exact with respect
    to :func:`fill_price` and :func:`commission`: a closed-form estimate for each commission
    tier (the quadratic of linear impact, the price clipped to the bar, the minimum and the fixed
    fee) is corrected by a vectorised search over whole units (or over the floats, for
    fractional rows) that evaluates exactly the arithmetic of those functions. The returned ``q``
    is affordable; ``q + 1`` (whole rows) or the next larger float (fractional rows) is not; and
    since every tier is tried, a cheaper higher tier is found past a more expensive lower one.
    NaN budgets give 0. Whole sizes are searched up to ``2**53``.

    One exception: a sell's fill price falls with size under impact, so its notional ``q * p(q)``
    peaks where the unclipped price reaches half its slipped value ``A = reference * (1 -
    slippage) - slippage_fixed``, unless ``low`` clips it first (``low >= A / 2``). Past that
    peak selling more raises less, so a sell row with ``impact > 0``, a positive volume and ``low < A
    / 2`` never sizes beyond ``max(A - high, A / 2) / (reference * impact / volume)`` units.

    >>> fee = CostModel.of(rate=0.001, fixed=1.0)  # 100.1 q + 1 <= 1000
    >>> affordable_units(fee, 1000.0, 100.0, 1.0, np.nan, 90.0, 110.0, np.array([True, False])).round(9).tolist()
    [9.0, 9.98001998]
    >>> impact = CostModel.of(impact=0.1)  # q (100 + 0.01 q) <= 10100
    >>> affordable_units(impact, 10_100.0, 100.0, 1.0, 1000.0, 90.0, 110.0, True).tolist()
    [100.0]
    >>> affordable_units(CostModel.of(rate=0.002), np.array([1000.0, -5.0]), 33.0, 1.0, 0.0, 0.0, np.inf, True).tolist()
    [30.0, 0.0]

    See Also: :func:`fill_price`, :func:`commission`, :func:`fillable_units`.
    """
    if "rate_only" in model.uniform:
        return _divide(model.rate, budget, reference, whole)
    arrays = np.broadcast_arrays(*(np.asarray(a) for a in (budget, reference, side, volume, low, high, whole)),
                                 model.rate)
    budget, reference, side, volume, low, high = (np.asarray(a, dtype=np.float64) for a in arrays[:6])
    whole = arrays[6].astype(bool)
    n = budget.shape[0]
    if len(model) != n:
        model = CostModel(*(np.broadcast_to(getattr(model, f.name), (n,) + getattr(model, f.name).shape[1:])
                            for f in attrs.fields(CostModel)[:-1]), uniform=model.uniform)
    fast = model.rate_only
    units = np.zeros(n)
    rows = np.flatnonzero(fast)
    if len(rows):
        units[rows] = _divide(model.rate[rows], budget[rows], reference[rows], whole[rows])
    rows = np.flatnonzero(~fast & (budget > 0.0))
    if len(rows):
        units[rows] = _largest_affordable(model.rows(rows), budget[rows], reference[rows], side[rows], volume[rows],
                                          low[rows], high[rows], whole[rows])
    return units


def _divide(rate, budget, reference, whole) -> np.ndarray:
    """The fast path: the engine's ``floor_divide`` (whole) or division (fractional), floored at 0."""
    unit = reference * (1.0 + rate)
    whole = np.asarray(whole)
    if whole.all():
        units = np.floor_divide(budget, unit)
    elif not whole.any():
        units = budget / unit
    else:
        units = np.where(whole, np.floor_divide(budget, unit), budget / unit)
    return np.maximum(units, 0.0)


def _largest_affordable(m: CostModel, budget, reference, side, volume, low, high, whole) -> np.ndarray:
    """The general path over rows with a positive budget (see :func:`affordable_units`)."""
    side = np.where(side < 0.0, -1.0, 1.0)
    with np.errstate(all="ignore"):
        base = reference * (1.0 + side * m.slippage) + side * m.slippage_fixed
        slope = np.where((volume > 0.0) & (m.impact > 0.0), reference * m.impact / volume, 0.0)
        dry = (m.impact > 0.0) & ~(volume > 0.0)  # no liquidity: every size fills at the bar's worst price
        base = np.where(dry, np.where(side > 0.0, high, low), base)
        cap = np.where((side < 0.0) & (slope > 0.0) & (low < base / 2.0),
                       np.maximum(base - high, base / 2.0) / slope, np.inf)
    cap = np.where(cap >= 0.0, cap, 0.0)  # NaN (no price) sizes nothing
    top = np.where(whole, np.minimum(np.floor(cap), _MAX_WHOLE).astype(np.int64),
                   np.minimum(cap, np.finfo(np.float64).max).view(np.int64))
    top_units = _units(top, whole)
    best = np.zeros(len(budget))
    bounds, n_tiers = m.tier_bounds, m.tier_bounds.shape[1]
    for k in range(n_tiers):
        rows = np.flatnonzero(np.isfinite(bounds[:, k]))
        if not len(rows):
            break  # bounds ascend: no row has this tier or any later one
        r = m.rows(rows)
        rate = r.tier_rates[:, k]
        below = r.tier_bounds[:, k + 1] if k + 1 < n_tiers else np.full(len(rows), np.inf)
        b, w = budget[rows], whole[rows]
        at = tuple(a[rows] for a in (side, reference, volume, low, high))
        line = (base[rows], slope[rows], at[0], at[3], at[4])
        guess = np.minimum.reduce([
            _solve(1.0, 0.0, r.minimum, b, *line),  # the minimum commission binds
            _solve(1.0 + rate, r.per_share, r.fixed, b, *line),  # the tier's formula binds
            _solve(1.0, 0.0, 0.0, below, *line),  # the notional reaches the next tier
        ])

        def fits(i, steps):
            q = _units(steps, w[i])
            s, ref, vol, lo, hi = (a[i] for a in at)
            notional = q * _price(r.slippage[i], r.slippage_fixed[i], r.impact[i], s, ref, q, vol, lo, hi)
            cost = notional + _fee(rate[i], r.per_share[i], r.minimum[i], r.fixed[i], q, notional)
            return (cost <= b[i]) & (notional < below[i])

        found = _units(_largest_true(fits, _steps(guess, w, top_units[rows]), top[rows]), w)
        if k:  # a size below this tier's bound is not in this tier
            price = _price(r.slippage, r.slippage_fixed, r.impact, *at[:2], found, *at[2:])
            found = np.where(found * price >= r.tier_bounds[:, k], found, 0.0)
        best[rows] = np.maximum(best[rows], found)
    # a last check with the public functions (a no-op unless rounding broke a tier's monotony)
    for _ in range(4):
        step = np.where(whole, best + 1.0, np.nextafter(best, np.inf))
        price = fill_price(m, side, reference, step, volume, low, high)
        more = (step <= top_units) & (step * price + commission(m, step, price) <= budget)
        if not more.any():
            break
        best = np.where(more, step, best)
    return best


def _units(k: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """Search steps to sizes: whole rows count units, fractional rows walk the floats' bit patterns."""
    return np.where(whole, k.astype(np.float64), np.ascontiguousarray(k).view(np.float64))


def _steps(q: np.ndarray, whole: np.ndarray, top_units: np.ndarray) -> np.ndarray:
    """Sizes to search steps (the inverse of :func:`_units`, flooring whole rows)."""
    q = np.clip(np.nan_to_num(q, nan=0.0), 0.0, top_units)
    return np.where(whole, np.floor(q).astype(np.int64), q.view(np.int64))


def _solve(alpha, beta, gamma, target, base, slope, side, low, high) -> np.ndarray:
    """Real ``q >= 0`` with ``alpha * q * price(q) + beta * q + gamma = target`` on the rising branch.

    ``price(q) = clip(base + side * slope * q, low, high)``: one constant stretch (the bar's
    edge the linear part starts from), the linear part (a quadratic, solved in its stable form),
    the constant stretch at the other edge. Only an estimate; the search makes it exact.
    """
    with np.errstate(all="ignore"):
        target = target - gamma
        buy = side > 0.0
        first = np.where(buy, low, high)
        last = np.where(buy, high, low)
        start = np.maximum(np.where(buy, low - base, base - high) / slope, 0.0)
        end = np.maximum(np.where(buy, high - base, base - low) / slope, 0.0)
        at_start = np.where(start > 0.0, start * (alpha * first + beta), 0.0)
        at_end = np.where(np.isfinite(end), end * (alpha * last + beta), np.inf)
        b = alpha * base + beta
        quadratic = 2.0 * target / (b + np.sqrt(np.maximum(b * b + 4.0 * side * alpha * slope * target, 0.0)))
        linear = np.where(target <= at_start, target / (alpha * first + beta),
                          np.where(target <= at_end, quadratic, target / (alpha * last + beta)))
        constant = target / (alpha * np.minimum(np.maximum(base, low), high) + beta)
        q = np.where(slope > 0.0, linear, constant)
        q = np.where(target == np.inf, np.inf, q)
    return np.where(target > 0.0, np.nan_to_num(q, nan=0.0), 0.0)


def _largest_true(holds, start: np.ndarray, top: np.ndarray) -> np.ndarray:
    """Per row, a ``k`` in ``[0, top]`` with ``holds(k)`` and not ``holds(k + 1)`` (or ``k == top``).

    ``holds(rows, k)`` is vectorised over row indices; ``holds(0)`` is taken as true. From
    ``start`` (the estimate) the search gallops up or down by doubling steps until it brackets
    the change, then bisects: a good estimate costs two evaluations.
    """
    start = np.clip(start, 0, top)
    lo = np.zeros_like(start)
    hi = top + 1
    mode = np.full(len(start), _UP, np.int8)
    step = np.ones_like(start)
    rows = np.flatnonzero(start > 0)
    if len(rows):
        ok = holds(rows, start[rows])
        lo[rows] = np.where(ok, start[rows], 0)
        hi[rows] = np.where(ok, hi[rows], start[rows])
        mode[rows] = np.where(ok, _UP, _DOWN)
    for _ in range(400):
        rows = np.flatnonzero(hi - lo > 1)
        if not len(rows):
            break
        l, h, s, md = lo[rows], hi[rows], step[rows], mode[rows]
        room = h - l - 1
        probe = np.where(md == _UP, l + np.minimum(s, room),
                         np.where(md == _DOWN, h - np.minimum(s, room), l + (h - l) // 2))
        ok = holds(rows, probe)
        lo[rows] = np.where(ok, probe, l)
        hi[rows] = np.where(ok, h, probe)
        mode[rows] = np.where(((md == _UP) & ~ok) | ((md == _DOWN) & ok), _BISECT, md)
        step[rows] = np.minimum(s * 2, 1 << 62)
    return lo
