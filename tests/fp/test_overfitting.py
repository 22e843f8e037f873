"""Overfitting statistics pinned on hand-worked cases, a brute-force CSCV and a bisection Φ⁻¹."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fp.overfitting import (
    DSR,
    PBO,
    StatisticsError,
    deflated_sharpe_ratio,
    expected_max_sharpe,
    normal_cdf,
    normal_quantile,
    probability_of_backtest_overfitting,
    selection_statistics,
    sharpe_of,
    sharpe_statistics,
)

GAMMA = 0.5772156649015329
SQRT2 = math.sqrt(2.0)


def phi(x):
    """Φ from math.erfc alone (full precision in the lower tail)."""
    return 0.5 * math.erfc(-x / SQRT2)


def phi_inverse(p):
    """Φ⁻¹ by bisection on :func:`phi`, independent of the module's algorithm."""
    low, high = -40.0, 40.0
    for _ in range(200):
        middle = (low + high) / 2.0
        low, high = (middle, high) if phi(middle) < p else (low, middle)
    return (low + high) / 2.0


def logit(omega):
    return math.log(omega / (1 - omega))


def brute_force_logits(returns, n_blocks, objective):
    """CSCV from raw rows, split by split: ``objective(rows)`` of each column, NaN worst."""
    n_rows, n_columns = returns.shape
    size = n_rows // n_blocks
    blocks = returns[n_rows - size * n_blocks:].reshape(n_blocks, size, n_columns)
    logits = []
    for half in itertools.combinations(range(n_blocks), n_blocks // 2):
        rest = [b for b in range(n_blocks) if b not in half]
        is_scores = [objective(np.concatenate(blocks[list(half), :, c])) for c in range(n_columns)]
        oos_scores = [objective(np.concatenate(blocks[rest, :, c])) for c in range(n_columns)]
        is_scores = [-math.inf if math.isnan(s) else s for s in is_scores]
        oos_scores = [-math.inf if math.isnan(s) else s for s in oos_scores]
        best = is_scores.index(max(is_scores))
        target = oos_scores[best]
        rank = sum(s < target for s in oos_scores) + Fraction(sum(s == target for s in oos_scores) + 1, 2)
        logits.append(logit(rank / (n_columns + 1)))
    return logits


def raw_sharpe(rows):
    std = np.std(rows, ddof=1)
    return float(np.mean(rows) / std) if std > 0 else math.nan


# ---- PBO: hand-worked cases ------------------------------------------------------------------------

# T=4 bars, N=2 columns, 2 blocks of 2 bars. Per-block Sharpe (mean / std, ddof 1):
#   column 0: block 0 [1, 3] -> 2 / √2 = √2;   block 1 [0, 2] -> 1 / √2
#   column 1: block 0 [0, 2] -> 1 / √2;        block 1 [0, 2] -> 1 / √2 (equal to column 0's)
# split 0 (IS block 0): n* = 0; OOS block 1 is a tie, rank 3/2 of 2: ω = 1/2, λ = 0 -> overfit
# split 1 (IS block 1): tie, n* = 0 (lowest index); OOS block 0: column 0 best, rank 2: ω = 2/3
HAND = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [2.0, 2.0]])


def test_two_blocks_two_columns_by_hand():
    pbo = probability_of_backtest_overfitting(HAND, n_blocks=2)
    expected_logits = (logit(Fraction(3, 2) / 3), logit(Fraction(2, 3)))
    assert (0.0, math.log(2.0)) == pytest.approx(expected_logits)
    assert expected_logits == pytest.approx(pbo.logits)
    assert (0.5, 2, 2) == (pbo.probability, pbo.n_splits, pbo.n_blocks)
    # OOS Sharpe of n* against its IS Sharpe: (√2, 1/√2) and (1/√2, √2): y = -x + 3/√2
    assert (-1.0, 3.0 / SQRT2) == pytest.approx((pbo.degradation_slope, pbo.degradation_intercept))
    assert 0.0 == pbo.probability_of_loss


def test_the_first_t_mod_n_blocks_rows_are_dropped():
    wild = np.vstack([[1e6, -1e6], HAND])
    assert probability_of_backtest_overfitting(HAND, n_blocks=2) == probability_of_backtest_overfitting(
        wild, n_blocks=2)


def test_a_column_best_on_every_half_gives_pbo_0():
    # column c = x + c: equal standard deviations on every half, higher mean, so the Sharpe
    # ranks are 0 < 1 < 2 on every half; n* = 2 is best OOS too: rank 3 of 3, ω = 3/4
    x = np.array([0.1, -0.2, 0.3, 0.05, -0.1, 0.2, 0.0, 0.15])
    pbo = probability_of_backtest_overfitting(np.column_stack([x, x + 1.0, x + 2.0]), n_blocks=4)
    assert (0.0, 6) == (pbo.probability, pbo.n_splits)
    assert (logit(Fraction(3, 4)),) * 6 == pytest.approx(pbo.logits)


def test_the_is_winner_always_the_oos_loser_gives_pbo_1():
    # 4 blocks of 2 bars, 6 columns, one per half h: column h is G = [1, 3] on h's blocks and
    # B = [-3, -1] elsewhere. Pooled Sharpe: GG = 2 / √(4/3) = √3, GB = 0, BB = -√3. On IS half
    # H only column H is GG (n* = H); on OOS half (H's complement) only column H is BB: rank 1
    # of 6, ω = 1/7, λ = ln(1/6) in every split.
    halves = list(itertools.combinations(range(4), 2))
    good, bad = [1.0, 3.0], [-3.0, -1.0]
    columns = [np.concatenate([good if block in half else bad for block in range(4)]) for half in halves]
    pbo = probability_of_backtest_overfitting(np.column_stack(columns), n_blocks=4)
    assert (1.0, 6, 1.0) == (pbo.probability, pbo.n_splits, pbo.probability_of_loss)
    assert (logit(Fraction(1, 7)),) * 6 == pytest.approx(pbo.logits)
    assert math.isnan(pbo.degradation_slope)  # every IS Sharpe is √3: no spread to fit


def test_constant_columns_have_nan_sharpe_and_rank_last():
    # column 0 is constant 0.1 (a naive variance would be rounding noise and its Sharpe huge),
    # column 1 constant 0: both NaN, tied worst. Column 2 = x has positive Sharpe everywhere.
    x = np.array([0.1, 0.3, 0.2, 0.4, 0.15, 0.25, 0.05, 0.35])
    pbo = probability_of_backtest_overfitting(np.column_stack([np.full(8, 0.1), np.zeros(8), x]), n_blocks=4)
    assert 0.0 == pbo.probability
    assert (logit(Fraction(3, 4)),) * 6 == pytest.approx(pbo.logits)


def test_equal_to_a_brute_force_cscv():
    rng = np.random.default_rng(7)
    returns = rng.normal(0.001, 0.01, size=(63, 5))
    for objective, raw in ((sharpe_of, raw_sharpe), (lambda mean, variance, count: mean * count, np.sum)):
        pbo = probability_of_backtest_overfitting(returns, n_blocks=6, objective=objective)
        expected = brute_force_logits(returns, 6, raw)
        assert expected == pytest.approx(pbo.logits, abs=1e-12)
        assert np.mean(np.array(expected) <= 0) == pbo.probability


def test_random_walks_overfit_about_half_the_time():
    # under the null the OOS rank of n* is uniform on 1..N, so P(rank <= N/2) = 1/2; one sample's
    # PBO still scatters (sd ≈ 0.15 over seeds here: the splits share their data)
    returns = np.random.default_rng(0).normal(0.0, 0.01, size=(1000, 50))
    pbo = probability_of_backtest_overfitting(returns)
    assert (12870, 12870) == (pbo.n_splits, len(pbo.logits))
    assert 0.3 < pbo.probability < 0.7
    seeds = [probability_of_backtest_overfitting(np.random.default_rng(seed).normal(0.0, 0.01, size=(1000, 50)))
             for seed in range(1, 10)]
    assert 0.4 < np.mean([pbo.probability] + [p.probability for p in seeds]) < 0.6


def test_a_real_edge_does_not_overfit():
    returns = np.random.default_rng(0).normal(0.0, 0.01, size=(1000, 50))
    returns[:, 17] += 0.004
    assert probability_of_backtest_overfitting(returns).probability < 0.05


def test_pbo_rejects_bad_arguments():
    for bad, n_blocks in ((HAND[:, 0], 2), (HAND[:, :1], 2), (HAND, 3), (HAND, 0), (HAND, 26),
                          (np.zeros((3, 2)), 2), (np.where(HAND == 3.0, np.nan, HAND), 2)):
        with pytest.raises(StatisticsError):
            probability_of_backtest_overfitting(bad, n_blocks=n_blocks)
    with pytest.raises(ValueError, match="objective returned shape"):
        probability_of_backtest_overfitting(HAND, n_blocks=2, objective=lambda mean, variance, count: 0.0)


# ---- the normal distribution -----------------------------------------------------------------------

def test_normal_known_values():
    assert 0.8413447460685429 == pytest.approx(normal_cdf(1.0), rel=1e-15)
    assert 1.959963984540054 == pytest.approx(normal_quantile(0.975), abs=1e-12)
    assert (-math.inf, 0.0, math.inf) == (normal_quantile(0.0), normal_quantile(0.5), normal_quantile(1.0))
    with pytest.raises(StatisticsError):
        normal_quantile(1.5)


@given(st.floats(1e-300, 0.5))
def test_normal_quantile_agrees_with_bisection(p):
    # the lower half only: above it Φ is too flat for bisection on Φ to pin Φ⁻¹ to 1e-12
    assert phi_inverse(p) == pytest.approx(normal_quantile(p), abs=1e-12)


@given(st.floats(1e-12, 1.0 - 1e-12))
def test_normal_quantile_inverts_the_cdf(p):
    assert p == pytest.approx(normal_cdf(normal_quantile(p)), rel=1e-12, abs=1e-15)


# ---- the deflated Sharpe ratio ---------------------------------------------------------------------

def test_one_trial_is_the_probabilistic_sharpe_ratio():
    # SR 0.1 over T = 101 bars, skewness -0.5, kurtosis 5: 1 + 0.05 + (4/4)(0.01) = 1.06 under the root
    dsr = deflated_sharpe_ratio(0.1, n_trials=1, n_observations=101, skewness=-0.5, kurtosis=5.0,
                                trials_sharpe_variance=0.04)
    assert DSR(pytest.approx(phi(0.1 * 10 / math.sqrt(1.06)), rel=1e-12), 0.0, 0.1, 1) == dsr


def test_two_trials_by_hand():
    # Φ⁻¹(1 - 1/2) = 0, so SR₀ = √V · γ · Φ⁻¹(1 - 1/(2e))
    expected = 0.2 * GAMMA * phi_inverse(1.0 - 1.0 / (2.0 * math.e))
    assert expected == pytest.approx(expected_max_sharpe(n_trials=2, trials_sharpe_variance=0.04), rel=1e-9)


def test_the_papers_example():
    # Bailey & López de Prado (2014): annualised SR 2.5, 1250 daily bars, skewness -3, kurtosis
    # 10, 100 trials with annualised Sharpe variance 1/2 -> SR₀ ≈ 0.1132 per day, DSR ≈ 0.9004
    dsr = deflated_sharpe_ratio(2.5 / math.sqrt(250), n_trials=100, n_observations=1250, skewness=-3.0,
                                kurtosis=10.0, trials_sharpe_variance=0.5 / 250)
    assert (0.1132, 0.9004) == pytest.approx((dsr.expected_max_sharpe, dsr.probability), abs=5e-5)


def test_dsr_is_nan_where_the_variance_term_is_not_positive():
    # skewness 2, kurtosis 5 = 1 + skewness² (two-point returns): 1 - 2 SR + SR² = 0 at SR = 1
    dsr = deflated_sharpe_ratio(1.0, n_trials=10, n_observations=100, skewness=2.0, kurtosis=5.0,
                                trials_sharpe_variance=0.01)
    assert math.isnan(dsr.probability)


def test_dsr_rejects_bad_arguments():
    good = dict(n_trials=10, n_observations=100, skewness=0.0, kurtosis=3.0, trials_sharpe_variance=0.01)
    for name, value in (("n_trials", 0), ("n_trials", True), ("n_observations", 1),
                        ("trials_sharpe_variance", -1.0)):
        with pytest.raises(StatisticsError, match=name):
            deflated_sharpe_ratio(0.1, **{**good, name: value})


variances = st.floats(1e-6, 1.0)


@given(st.integers(1, 10 ** 6), variances)
def test_expected_max_sharpe_grows_with_trials(n, variance):
    assert expected_max_sharpe(n_trials=n, trials_sharpe_variance=variance) < expected_max_sharpe(
        n_trials=n + 1, trials_sharpe_variance=variance)


realistic = dict(
    sharpe=st.floats(-0.5, 0.5), n_observations=st.integers(2, 5000), skewness=st.floats(-1.0, 1.0),
    excess_over_bound=st.floats(0.0, 8.0), variance=st.floats(0.0, 0.01),
)


@given(n=st.integers(1, 1000), more=st.integers(1, 1000), **realistic)
def test_dsr_falls_with_trials(n, more, sharpe, n_observations, skewness, excess_over_bound, variance):
    kurtosis = 1.0 + skewness ** 2 + excess_over_bound  # every distribution has kurtosis >= 1 + skewness²
    def dsr(trials):
        return deflated_sharpe_ratio(sharpe, n_trials=trials, n_observations=n_observations, skewness=skewness,
                                     kurtosis=kurtosis, trials_sharpe_variance=variance).probability
    assert dsr(n + more) <= dsr(n)


@given(n=st.integers(1, 1000), gain=st.floats(0.0, 0.5), **realistic)
def test_dsr_rises_with_sharpe(n, gain, sharpe, n_observations, skewness, excess_over_bound, variance):
    kurtosis = 1.0 + skewness ** 2 + excess_over_bound
    def dsr(value):
        return deflated_sharpe_ratio(value, n_trials=n, n_observations=n_observations, skewness=skewness,
                                     kurtosis=kurtosis, trials_sharpe_variance=variance).probability
    assert dsr(sharpe) <= dsr(sharpe + gain)


def test_dsr_rises_strictly_with_sharpe_and_falls_strictly_with_trials():
    def dsr(sharpe, trials):
        return deflated_sharpe_ratio(sharpe, n_trials=trials, n_observations=250, skewness=-0.5, kurtosis=6.0,
                                     trials_sharpe_variance=0.002).probability
    assert dsr(0.05, 20) < dsr(0.1, 20) < dsr(0.15, 20)
    assert dsr(0.1, 1) > dsr(0.1, 2) > dsr(0.1, 20) > dsr(0.1, 200)


# ---- Sharpe statistics and the report row ----------------------------------------------------------

def test_sharpe_statistics_by_hand():
    # [0, 0, 0, 0.04]: mean 0.01, deviations (-0.01 ×3, 0.03); m2 = 3e-4, m3 = 6e-6, m4 = 2.1e-7;
    # std (ddof 1) = √(12e-4 / 3) = 0.02
    stats = sharpe_statistics(np.array([0.0, 0.0, 0.0, 0.04]))
    assert (0.5, 2.0 / math.sqrt(3.0), 7.0 / 3.0, 4) == pytest.approx(tuple(stats), rel=1e-12)
    assert (0.5, 4) == pytest.approx((stats.sharpe, stats.n_observations))
    constant = sharpe_statistics(np.full(5, 0.1))
    assert all(math.isnan(value) for value in constant[:3]) and 5 == constant.n_observations
    for bad in (np.zeros((2, 2)), np.array([0.1]), np.array([0.1, math.inf])):
        with pytest.raises(StatisticsError):
            sharpe_statistics(bad)


def test_selection_statistics_by_hand():
    # HAND's columns: [1, 3, 0, 2] (mean 1.5, var 5/3, m2 1.25, m3 0, m4 2.5625: skew 0, kurt 1.64)
    # and [0, 2, 0, 2] (mean 1, var 4/3); Sharpe variance (ddof 1) = (a - b)² / 2
    a, b = 1.5 / math.sqrt(5.0 / 3.0), 1.0 / math.sqrt(4.0 / 3.0)
    benchmark = math.sqrt((a - b) ** 2 / 2.0) * GAMMA * phi_inverse(1.0 - 1.0 / (2.0 * math.e))
    deflated = phi((a - benchmark) * math.sqrt(3.0) / math.sqrt(1.0 + 0.64 / 4.0 * a * a))
    expected = {"pbo": 0.5, "pbo_splits": 2, "deflated_sharpe": deflated, "expected_max_sharpe": benchmark,
                "sharpe": a, "n_trials": 2}
    got = selection_statistics(HAND, 0, n_blocks=2)
    assert {} == got.pop("reasons")
    # the two splits' logits (see probability_of_backtest_overfitting's example): 0 and ln 2, once each
    assert [1, 1] == got.pop("logit_counts")
    assert pytest.approx([0.0, math.log(2.0)], rel=1e-12) == got.pop("logit_values")
    assert pytest.approx(expected, rel=1e-9) == got
    for chosen in (2, -1, 0.0, True):
        with pytest.raises(StatisticsError, match="chosen"):
            selection_statistics(HAND, chosen, n_blocks=2)


def test_records_are_frozen():
    pbo = probability_of_backtest_overfitting(HAND, n_blocks=2)
    assert isinstance(pbo, PBO) and "logits" not in repr(pbo)
    with pytest.raises(AttributeError):
        pbo.probability = 0.0


def test_pbo_is_undefined_when_nothing_varies():
    """Nothing traded: every Sharpe ratio is NaN, no split has a best combination (was 1.0)."""
    pbo = probability_of_backtest_overfitting(np.zeros((40, 3)), n_blocks=4)
    assert (0, 6) == (pbo.n_defined_splits, pbo.n_splits)
    assert math.isnan(pbo.probability) and math.isnan(pbo.probability_of_loss)
    assert all(math.isnan(x) for x in pbo.logits)
    assert "every combination's objective is NaN on every in-sample half: no split has a best combination to " \
           "choose" == pbo.reason


def test_a_split_without_an_in_sample_best_is_left_out():
    """Column 0 moves only in block 1, column 1 never: the split with block 0 in-sample has nothing
    to choose (was: column 0 by index, counted as not overfit); the other chooses column 0, whose
    out-of-sample Sharpe ties column 1's (both NaN): rank 1.5 of 2, λ = 0, overfit."""
    returns = np.column_stack([[0.0, 0.0, 1.0, 3.0], np.zeros(4)])
    pbo = probability_of_backtest_overfitting(returns, n_blocks=2)
    assert (1.0, 1, 2) == (pbo.probability, pbo.n_defined_splits, pbo.n_splits)
    assert math.isnan(pbo.logits[0]) and 0.0 == pbo.logits[1]
    assert "" == pbo.reason


def test_selection_statistics_say_why_a_statistic_is_undefined():
    stats = selection_statistics(np.zeros((40, 3)), 1, n_blocks=4)
    assert all(math.isnan(stats[name]) for name in ("pbo", "deflated_sharpe", "expected_max_sharpe", "sharpe"))
    assert {"pbo", "deflated_sharpe", "expected_max_sharpe", "sharpe"} == set(stats["reasons"])
    assert "the selected combination's returns never vary (it never traded)" == stats["reasons"]["sharpe"]
    assert stats["reasons"]["sharpe"] == stats["reasons"]["deflated_sharpe"]
    assert stats["reasons"]["expected_max_sharpe"].startswith("0 of 3 combinations have returns that vary")
    assert stats["reasons"]["pbo"].startswith("no combination's returns vary on any in-sample half")
