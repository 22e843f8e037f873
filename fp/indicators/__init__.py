"""The native indicators: the common ones a researcher reaches for, with no extra to install.

``fp.features`` holds the :class:`~fp.features.Feature` record and the basic features every
built-in strategy uses (price, sma, ema, rsi, atr, ...). The indicators here are features of the
same kind — declared parameters, inputs and outputs, a streaming and a batch form, registered in
``fp.registry`` beside the basics — grouped one family per module, because one ``features.py``
holding moving averages, oscillators, trend systems, channels and volume studies would be five
concepts in one file:

* ``averages`` — ``wma``, ``hma``, ``kama``;
* ``momentum`` — ``macd``, ``roc``, ``stochastic``, ``stoch_rsi``, ``williams_r``, ``cci``;
* ``trend`` — ``adx`` (+DI, -DI), ``supertrend``, ``psar``;
* ``channels`` — ``keltner``, ``donchian``;
* ``volume`` — ``obv``, ``mfi``, ``vwap`` (per session or rolling).

Each family's docstring gives the definitions. Where TA-Lib has the indicator, the native one
equals it to 1e-9 from TA-Lib's first output bar on and is NaN before it; where TA-Lib's
definition is unusual (its EMA and ATR seeding inside MACD and Keltner, its RSI of 0 on a flat
market inside the stochastic RSI, MFI's empty window) the native one follows TA-Lib and says so.
The test suite uses TA-Lib as the oracle (``tests/fp/test_indicators.py``). Wilder's smoothing —
``avg = (avg·(n-1) + today)/n``, seeded with the mean of the first ``n`` values — is used where
Wilder defined the indicator with it (the RSI in ``stoch_rsi``, ``adx``'s DX average, the ATR
inside ``keltner`` and ``supertrend``), with TA-Lib's running-sum form ``S - S/n + today`` for
``adx``'s directional movement and true range.

Laws (checked by ``fp.testing`` like every feature): streaming ≡ batch bit for bit, no
look-ahead, determinism.
"""
from __future__ import annotations

from types import MappingProxyType

from fp.indicators.averages import AVERAGES
from fp.indicators.channels import CHANNELS
from fp.indicators.momentum import MOMENTUM
from fp.indicators.trend import TREND
from fp.indicators.volume import VOLUME

__all__ = ["INDICATORS"]

#: Every native indicator by name (read-only).
INDICATORS = MappingProxyType({f.name: f for f in (*AVERAGES, *MOMENTUM, *TREND, *CHANNELS, *VOLUME)})
