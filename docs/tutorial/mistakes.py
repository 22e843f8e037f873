"""Deliberate mistakes for the tutorial (docs/tutorial.md): a strategy that reads the next bar, and a
feature whose batch form normalises over the whole series."""
import numpy as np

from fp.components import Param, feature, ref, strategy


@strategy(params=(Param("threshold", "float", 0.0, minimum=0.0),), features={"close": ref("price")})
def tomorrow(p, f):
    """Long when the next close is higher: a perfect backtest, and impossible to trade."""
    close = np.asarray(f["close"], dtype=np.float64)
    next_close = np.append(close[1:], np.nan) if close.ndim else np.nan  # the mistake: close[t + 1]
    return np.where(next_close > close * (1.0 + p["threshold"]), 1.0, 0.0)


def relative_volume_batch(p, inputs, precision):
    """The fast batch form, and the mistake: the mean of the whole series, the future included."""
    volume = inputs[0]
    return (volume / volume.mean(),)


@feature(init=(0, 0.0), batch=relative_volume_batch)
def relative_volume(p, state, x):
    """The bar's volume relative to the mean volume so far (1: a usual bar)."""
    seen, total = state[0] + 1, state[1] + x[0]
    return (seen, total), (x[0] * seen / total if total > 0 else 1.0,)


@strategy(params=(Param("min_volume", "float", 1.0, minimum=0.0),),
          features={"fast": ref("ema", period=8), "slow": ref("ema", period=21),
                    "volume": ref(relative_volume, "volume")})
def busy_trend(p, f):
    """Long while the fast EMA is above the slow one on a busier bar than usual, flat otherwise."""
    return np.where((f["fast"] > f["slow"]) & (f["volume"] > p["min_volume"]), 1.0, 0.0)
