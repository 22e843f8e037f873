"""The tutorial's components (docs/tutorial.md): an EMA ribbon filtered by Kaufman's efficiency ratio."""
import math

import numpy as np

from fp.components import Param, feature, ref, strategy


@feature(params=(Param("period", "int", 10, minimum=1, doc="bars the move is measured over"),), init=())
def efficiency(p, window, x):
    """Kaufman's efficiency ratio: |net move| / path length over `period` bars (1: a straight line, 0: noise)."""
    n = p["period"]
    window = (window + x)[-(n + 1):]
    if len(window) <= n:
        return window, (math.nan,)
    path = sum(abs(b - a) for a, b in zip(window, window[1:]))
    # at most 1 (the net move never exceeds the path), also where rounding of the path says otherwise
    return window, (min(abs(window[-1] - window[0]) / path, 1.0) if path > 0 else 0.0,)


@strategy(
    params=(
        Param("fast", "int", 8, minimum=1, doc="fastest EMA"),
        Param("middle", "int", 13, minimum=1, doc="middle EMA"),
        Param("slow", "int", 21, minimum=1, doc="slowest EMA; also the efficiency window"),
        Param("min_efficiency", "float", 0.0, minimum=0.0, maximum=1.0, doc="flat below this efficiency"),
    ),
    features=lambda p: {
        "fast": ref("ema", period=p["fast"]),
        "middle": ref("ema", period=p["middle"]),
        "slow": ref("ema", period=p["slow"]),
        "efficiency": ref(efficiency, period=p["slow"]),
    },
)
def ema_ribbon(p, f):
    """Long while the ribbon is stacked up (fast > middle > slow), short while it is stacked down,
    hold otherwise; flat while the move is less efficient than `min_efficiency`."""
    up = (f["fast"] > f["middle"]) & (f["middle"] > f["slow"])
    down = (f["fast"] < f["middle"]) & (f["middle"] < f["slow"])
    direction = np.where(up, 1.0, np.where(down, -1.0, np.nan))
    return np.where(f["efficiency"] < p["min_efficiency"], 0.0, direction)
