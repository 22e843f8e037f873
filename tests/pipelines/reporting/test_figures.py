"""Figures as data (``pipelines.reporting.figures``): what each chart holds, without a browser."""
import math

import numpy as np

from pipelines.reporting.figures import _spans_decades, train_test_figure


def test_the_in_and_out_of_sample_scatter_shows_every_row_with_both_and_says_how_many_were_selected():
    nan = math.nan
    rows = [{"combo_id": "a", "train_sharpe": 1.0, "test_sharpe": 0.5, "selected": True, "rank": 1},
            {"combo_id": "b", "train_sharpe": 0.8, "test_sharpe": 0.9, "selected": True, "rank": 2},
            {"combo_id": "c", "train_sharpe": 0.2, "test_sharpe": -0.1, "selected": False, "rank": None},
            {"combo_id": "d", "train_sharpe": -0.3, "test_sharpe": 0.1, "selected": False, "rank": None},
            {"combo_id": "e", "train_sharpe": nan, "test_sharpe": 0.4, "selected": False, "rank": None},
            {"combo_id": "f", "train_sharpe": 0.5, "test_sharpe": None, "selected": False, "rank": None}]
    fig = train_test_figure(rows, "sharpe")
    points = {t["name"]: t for t in fig["data"] if t.get("mode") != "lines"}
    assert {"not selected (2)", "selected (2), by rank"} == set(points)
    assert [["c"], ["d"]] == points["not selected (2)"]["customdata"]
    assert ([1.0, 0.8], [0.5, 0.9]) == (points["selected (2), by rank"]["x"], points["selected (2), by rank"]["y"])
    assert ["#1", "#2"] == points["selected (2), by rank"]["text"]
    (note,) = [a["text"] for a in fig["layout"]["annotations"]]
    assert ("4 of 6 combinations have both an in-sample and an out-of-sample sharpe; 2 of them were selected "
            "(2 without both are left out)") == note


def test_the_pbo_histogram_puts_a_logit_of_zero_with_the_overfit_splits():
    from pipelines.reporting.figures import PALETTE, pbo_figure
    fig = pbo_figure({"logit_values": [-1.0, 0.0, 1.0], "logit_counts": [1, 2, 3]})
    (bars,) = fig["data"]
    red = [share for share, colour in zip(bars["y"], bars["marker"]["color"]) if colour == PALETTE["loss"]]
    assert 3 / 6 == sum(red)  # λ ≤ 0: the -1 and both zeros
    assert 1.0 == sum(bars["y"])
    assert all(left < value <= right for (left, right), value in zip(bars["customdata"].tolist(), [-1.0, 0.0, 1.0]))


def test_the_strategy_by_classifier_grid_names_its_parameters_on_the_axes():
    from pipelines.reporting.figures import strategy_by_classifier_figure
    rows = [{"strategy": "momentum", "lookback": lb, "classifier": "hmm", "classifier_days": d, "notes": f"n{lb}{d}",
             "sharpe": lb / 10 + d / 100} for lb in (10, 20) for d in (30, 60)]
    fig = strategy_by_classifier_figure(rows, ["lookback"], ["classifier_days"], "sharpe")
    (heatmap,) = fig["data"]
    assert (["10", "20"], ["30", "60"]) == (heatmap["y"], heatmap["x"])
    assert ("lookback", "days") == (fig["layout"]["yaxis"]["title"]["text"], fig["layout"]["xaxis"]["title"]["text"])
    assert [[1.3, 1.6], [2.3, 2.6]] == heatmap["z"].tolist()


def test_equity_beside_a_multi_bagger_is_drawn_on_a_log_axis():
    """A shared-cash portfolio beside a buy-and-hold that grew 8,000-fold drew as a flat line at 0."""
    assert _spans_decades([np.array([1e4, 2e4]), np.array([1e4, 8e7])])
    assert not _spans_decades([np.array([1e4, 6e4]), np.array([1e4, 9e4])])
    assert not _spans_decades([np.array([1e4, 0.0, 0.0])])  # a ruined curve has no log scale
