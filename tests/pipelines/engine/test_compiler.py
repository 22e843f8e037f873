"""The compiler: grids, constraints, unions of entries, stable ids, the shared feature set."""

from pipelines.engine.compiler import plan_from_spec
from pipelines.boundary.specs import spec_from_mapping, spec_from_yaml


def plan_of(doc):
    return plan_from_spec(spec_from_mapping(doc))


def test_seed_specs_plan_24_and_54_combinations():
    seed = plan_from_spec(spec_from_yaml("specs/seed.yaml"))
    large = plan_from_spec(spec_from_yaml("specs/seed_large.yaml"))
    assert (24, 54) == (len(seed.combos), len(large.combos))
    assert 3 == len(seed.features) and 24 == seed.naive_feature_count
    assert ("data", "feature_hub", "execution") == seed.shared
    assert "classifier" in seed.per_lane


def test_constraints_filter_and_entries_union():
    plan = plan_of({
        "strategies": [
            {"type": "sma_crossover", "parameters": {"fast_period": {"from": 5, "to": 50, "step": 5},
                                                     "slow_period": {"from": 20, "to": 200, "step": 20}}},
            {"type": "momentum", "parameters": {"lookback_period": [5, 10]}},
        ],
        "constraints": ["fast_period < slow_period"],
    })
    assert 92 == len(plan.combos)
    assert all(dict(c.strategy_params)["fast_period"] < dict(c.strategy_params)["slow_period"]
               for c in plan.combos if c.strategy == "sma_crossover")
    # SMA features are shared: 10 fast + 10 slow windows with overlaps 20, 40 -> 18 distinct, plus 2 returns
    assert 20 == len(plan.features)
    assert 90 * 2 + 2 == plan.naive_feature_count


def test_settings_grids_multiply_combinations_and_are_reported_as_varying():
    plan = plan_of({"execution": {"commission": [0.0, 0.001, 0.002]},
                    "strategies": [{"type": "momentum", "parameters": {"lookback_period": [5, 10]}}]})
    assert 6 == len(plan.combos)
    assert ("execution_commission",) == plan.varying


def test_combination_ids_are_stable_and_do_not_depend_on_other_grid_points():
    small = plan_of({"strategies": [{"type": "momentum", "parameters": {"lookback_period": [10]}}]})
    large = plan_of({"strategies": [{"type": "momentum", "parameters": {"lookback_period": [5, 10, 20]}}]})
    again = plan_of({"strategies": [{"type": "momentum", "parameters": {"lookback_period": [10]}}]})
    assert small.combos[0].combo_id == again.combos[0].combo_id == large.combos[1].combo_id
    assert len({c.combo_id for c in large.combos}) == 3


def test_symbols_come_from_the_data_section():
    plan = plan_of({"data": {"paths": {"A": "a.csv", "B": "b.csv"}},
                    "strategies": [{"type": "momentum"}]})
    assert ("A", "B") == plan.symbols and 2 == plan.n_lanes
