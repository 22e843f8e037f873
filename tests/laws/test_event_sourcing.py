"""Law 5 (event sourcing): folding a run's recorded fills (and ruins) reproduces every lane's final
portfolio."""
import sys

import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from law_harness import laws

import pipelines
from fp.testing import bars, jumping
from pipelines.workflows.event_sourcing import replay_trace
from state.market import MarketData

ALWAYS_SHORT = """
import numpy as np
from fp.components import ref, strategy

@strategy(params=(), features={"close": ref("price")})
def always_short(p, f):
    return np.full(len(f["close"]), -1.0)
"""


@pytest.fixture(scope="module")
def always_short(tmp_path_factory):
    """A strategy short from the first bar, by import path (a replay reloads the spec's components)."""
    folder = tmp_path_factory.mktemp("author")
    (folder / "es_always_short.py").write_text(ALWAYS_SHORT)
    sys.path.insert(0, str(folder))
    yield "es_always_short:always_short"
    sys.path.remove(str(folder))
    sys.modules.pop("es_always_short", None)



LAWS = laws(15, HealthCheck.function_scoped_fixture)


@LAWS
@given(st.one_of(bars(min_size=5, max_size=80), jumping(bars(min_size=5, max_size=80))), st.sampled_from(["long_only", "long_short"]),
       st.sampled_from([False, True]), st.sampled_from([0.0, 0.002]))
def test_replaying_the_trace_gives_the_runs_final_portfolios_bit_for_bit(tmp_path_factory, always_short, data,
                                                                          direction, fractional, commission):
    out = tmp_path_factory.mktemp("run") / "traced"
    market = MarketData((data,), "generated", f"test-{len(data)}", 252.0)
    result = pipelines.run({"portfolio": {"direction": direction, "fractional": fractional},
                            "execution": {"commission": commission, "fill": ["next_open", "close"]},
                            "strategies": [{"type": "momentum", "parameters": {"lookback_period": [2, 5]}},
                                           {"type": "breakout", "parameters": {"period": 3}},
                                           {"type": always_short}]},
                           market=market, out=out, trace=True)
    replayed = replay_trace(out)
    final = result.final.to_pylist()
    assert len(final) == len(replayed)
    for row in final:
        state = replayed[(row["combo_id"], row["symbol"])]
        assert (row["cash"], row["position"]) == (float(state.cash[0]), float(state.position[0]))
