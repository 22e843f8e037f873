#!/usr/bin/env python3
"""Exits at grid scale: the W1 grid with a 3-point stop-loss × 3-point take-profit grid (810 combos).

On the 100,000-bar synthetic series, in one process:

  (a) plain W1: 90 SMA-crossover combos (the harness's grid and settings), market orders only;
  (b) the same 90 × ``stop_loss`` [0.1, 0.2, 0.5 %] × ``take_profit`` [0.2, 0.5, 1 %] = 810
      combos: every position's stop and target found by first-passage searches, folded as exits.

Each timed region is ``pipelines.run(spec, market=...)`` + ``best()`` (like ``bench_admf.py``'s
W1), best and median of ``--reps`` after one warm-up. Prints wall times, combo-bars/s for both and
the throughput ratio; the target (issue 10) is (b)'s combo-bars/s within 3× of (a)'s. (The
exit fill rules themselves are proved by ``tests/laws/test_execution_laws.py``, not here.)

    python bench/exits.py [--reps 3] [--peers-dir DIR]
"""
from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import bench_admf as A  # noqa: E402
import benchlib as B  # noqa: E402

import pipelines  # noqa: E402

# The synthetic series moves ~0.02 % a bar and W1 positions last tens to hundreds of bars, so
# levels of a few tenths of a percent are the ones that fire (at 2 % almost none would: the
# benchmark would then time searches that find nothing).
STOP_LOSS = [0.001, 0.002, 0.005]
TAKE_PROFIT = [0.002, 0.005, 0.01]
TARGET_RATIO = 3.0


def run(spec, market):
    result = pipelines.run(spec, market=market)
    result.best()
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--peers-dir")
    args = parser.parse_args(argv)
    A.setup(args.peers_dir)
    market = A.load_market("synth_100k", args.peers_dir)
    bars = len(market.bars[0])
    plain = A.spec()
    with_exits = {**plain, "exits": {"stop_loss": STOP_LOSS, "take_profit": TAKE_PROFIT}}
    run(plain, A.head(market, 2_000))  # warm-up (imports, caches)
    run(with_exits, A.head(market, 2_000))
    best_a, med_a, a = B.best_and_median(args.reps, lambda: run(plain, market))
    best_b, med_b, b = B.best_and_median(args.reps, lambda: run(with_exits, market))
    n_a, n_b = a.results.num_rows, b.results.num_rows
    rate_a, rate_b = n_a * bars / med_a, n_b * bars / med_b
    ratio = rate_a / rate_b

    print(f"\n## Exits at grid scale on synth_100k ({bars:,} bars), {args.reps} reps\n")
    print("| run | combos | wall s (best) | wall s (median) | combo-bars/s (median) |\n|---|---|---|---|---|")
    print(f"| (a) plain W1 | {n_a} | {best_a:.3f} | {med_a:.3f} | {rate_a / 1e6:,.1f} M |")
    print(f"| (b) W1 × stop_loss × take_profit | {n_b} | {best_b:.3f} | {med_b:.3f} | {rate_b / 1e6:,.1f} M |")
    print(f"\nthroughput (a)/(b): {ratio:.2f}× — target ≤ {TARGET_RATIO:.0f}×: "
          f"{'PASS' if ratio <= TARGET_RATIO else 'FAIL'}")
    exposure_a = sum(r["exposure_pct"] for r in a.results.to_pylist()) / n_a
    exposure_b = sum(r["exposure_pct"] for r in b.results.to_pylist()) / n_b
    plain = {(r["fast_period"], r["slow_period"]): r["final_equity"] for r in a.results.to_pylist()}
    changed = sum(r["final_equity"] != plain[(r["fast_period"], r["slow_period"])] for r in b.results.to_pylist())
    print(f"exits changed the final equity of {changed} of {n_b} combos; mean exposure (a) {exposure_a:.1f} %, "
          f"(b) {exposure_b:.1f} %; trades (a) {a.trades.num_rows:,}, (b) {b.trades.num_rows:,} (an entry is one "
          "trade, closed by its signal or an exit)")
    return 0 if ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
