"""Figures as data (``pipelines.reporting.figures``): what each chart holds, without a browser."""
import math

from pipelines.reporting.figures import train_test_figure


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
