"""The tutorial's last step (docs/tutorial.md): the same strategy from code, its record as the type."""
import pipelines
from fp.components import batch_outputs
from fp.testing import assert_no_lookahead
from my_signals import ema_ribbon
from pipelines.boundary.data import load_market_data
from state.spec import DataSpec


def main():
    goog = load_market_data(DataSpec(dataset="GOOG")).bars[0]
    (signal,) = batch_outputs(ema_ribbon, {"fast": 8, "middle": 13, "slow": 21, "min_efficiency": 0.2}, goog)
    assert_no_lookahead(ema_ribbon, max_examples=20)
    result = pipelines.run({
        "data": {"dataset": "GOOG"},
        "strategies": [{"type": ema_ribbon, "parameters": {"fast": [5, 8], "min_efficiency": [0.0, 0.2]}}],
    })
    return signal, result.ranked().select(["strategy", "fast", "min_efficiency", "sharpe"]).to_pylist()


if __name__ == "__main__":
    signal, rows = main()
    print(f"{len(signal)} targets; best: {rows[0]}")
