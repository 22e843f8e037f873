"""A deliberate mistake for the tutorial (docs/tutorial.md): a strategy that reads the next bar."""
import numpy as np

from fp.components import Param, ref, strategy


@strategy(params=(Param("threshold", "float", 0.0, minimum=0.0),), features={"close": ref("price")})
def tomorrow(p, f):
    """Long when the next close is higher: a perfect backtest, and impossible to trade."""
    close = np.asarray(f["close"], dtype=np.float64)
    next_close = np.append(close[1:], np.nan) if close.ndim else np.nan  # the mistake: close[t + 1]
    return np.where(next_close > close * (1.0 + p["threshold"]), 1.0, 0.0)
