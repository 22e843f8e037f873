"""Regenerate ``backtesting_py_goog_sma.json``: backtesting.py's own numbers for the peers' W0.

Run with a Python that has backtesting.py 0.6.6 (the ``bench`` extra):
    python tests/peers/make_reference.py
The semantics are the peers-bench W0 ones (shared/peers-bench/README.md): GOOG daily, SMA 10/20
cross, 10,000 cash, 0.2 % commission per fill, next-open fills, all-in whole shares.
"""
import json
import math
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from peer_backtesting import run_backtesting  # noqa: E402


def main() -> None:
    ref = {variant: run_backtesting(variant) for variant in ("long_only", "long_short")}
    with open(os.path.join(HERE, "backtesting_py_goog_sma.json"), "w") as f:
        json.dump(ref, f, indent=1, default=lambda x: None if isinstance(x, float) and math.isnan(x) else str(x))
        f.write("\n")


if __name__ == "__main__":
    main()
