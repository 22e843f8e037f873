"""The parameter landscape on hand-worked grids (a constraint hole, max and mean, robustness)."""
import math

import numpy as np

from fp.landscape import axis_values, grid_aggregate, marginal, neighbourhood_mean

# fast × slow × stop, fast < slow removes (20, 20) on both stops; the sharpe of each combination
ROWS = [  # fast, slow, stop, sharpe
    (10, 20, 0.02, 1.0), (10, 20, 0.05, 3.0),
    (10, 40, 0.02, 2.0), (10, 40, 0.05, np.nan),  # never traded: undefined
    (20, 40, 0.02, -1.0), (20, 40, 0.05, 0.0),
]
FAST, SLOW, STOP, SHARPE = ([r[k] for r in ROWS] for k in range(4))
Z = np.array(SHARPE)


def test_max_over_the_other_dimension_with_a_constraint_hole():
    xs, ys, grid = grid_aggregate(FAST, SLOW, Z, "max")
    assert ([10, 20], [20, 40]) == (xs, ys)
    assert 3.0 == grid[0, 0] and 2.0 == grid[1, 0] and 0.0 == grid[1, 1]
    assert math.isnan(grid[0, 1])  # (fast 20, slow 20): removed by the constraint


def test_mean_over_the_other_dimension_skips_undefined_values():
    _, _, grid = grid_aggregate(FAST, SLOW, Z, "mean")
    assert 2.0 == grid[0, 0]  # (1 + 3) / 2
    assert 2.0 == grid[1, 0]  # only the defined 2.0; the NaN neighbour is left out
    assert -0.5 == grid[1, 1]
    assert math.isnan(grid[0, 1])


def test_an_axis_of_labels_keeps_its_first_seen_order():
    xs, ys, grid = grid_aggregate(["svm", "hmm", "svm"], [30, 30, 60], np.array([1.0, 2.0, 3.0]))
    assert (["svm", "hmm"], [30, 60]) == (xs, ys)
    assert [[1.0, 2.0], [3.0, None]] == [[None if math.isnan(v) else v for v in row] for row in grid.tolist()]


def test_marginal_per_value_over_defined_metrics():
    rows = marginal(FAST, Z)
    assert [10, 20] == [r["value"] for r in rows]
    assert (2.0, 2.0, 1.0, 3.0, 3) == tuple(rows[0][k] for k in ("mean", "median", "min", "max", "n"))
    assert (-0.5, 2) == (rows[1]["mean"], rows[1]["n"])


def test_robustness_is_the_mean_of_the_neighbourhood_a_spike_reads_lower_than_a_plateau():
    # a 3 × 3 grid: a plateau of 1.0 on the left columns, a lone spike of 5.0 among zeros on the right
    fast, slow, z = [], [], []
    for i, f in enumerate((5, 10, 15)):
        for j, s in enumerate((20, 40, 60)):
            fast.append(f); slow.append(s)
            z.append(1.0 if i < 2 else (5.0 if j == 1 else 0.0))
    robust = neighbourhood_mean([fast, slow], np.array(z))
    plateau = robust[fast.index(5) + 1]  # (5, 40): all six neighbours on the plateau
    spike = robust[6 + 1]  # (15, 40): itself, two zeros and three plateau cells
    assert 1.0 == plateau
    assert (5.0 + 0.0 + 0.0 + 3 * 1.0) / 6 == spike


def test_axis_values_leave_out_missing_parameters():
    assert [5, 10] == axis_values([10, None, 5])
