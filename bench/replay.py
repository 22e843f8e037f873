"""Generate once, replay many: a strategy sweep over a commission grid, two ways, one run.

On the 100,000-bar synthetic series, a 54-combination SMA-crossover sweep (fast 5..30 step 5 ×
slow 40..200 step 20) is run over a 4-point commission grid

  (a) as 4 full backtests, one per commission (features, signals, fold, metrics each time), and
  (b) as one signal generation plus one replay over the 4-point grid (the replay computes no
      feature and no signal: it reads the stored changes and folds portfolio, risk, execution).

Prints both wall times (best of ``--reps``), the ratio, the replay's phases, the store's size on
disk against a dense store (one value per combination and bar, same Parquet writer), and checks
that (b) gives exactly (a)'s results.

    python bench/replay.py [--reps 3] [--peers-dir DIR]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import pipelines  # noqa: E402
from fp.strategies import expand_changes  # noqa: E402
from pipelines.boundary.data import load_market_data  # noqa: E402
from state.spec import DataSpec  # noqa: E402

COMMISSIONS = [0.0005, 0.001, 0.002, 0.004]
STRATEGIES = [{"type": "sma_crossover", "parameters": {"fast_period": {"from": 5, "to": 30, "step": 5},
                                                       "slow_period": {"from": 40, "to": 200, "step": 20}}}]
PORTFOLIO = {"initial_cash": 10_000, "direction": "long_only"}


def best_of(reps: int, fn):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), sorted(times)[len(times) // 2], out


def full_backtests(market):
    return [pipelines.run({"portfolio": PORTFOLIO, "execution": {"commission": c}, "strategies": STRATEGIES},
                          market=market) for c in COMMISSIONS]


def generate_and_replay(market, folder):
    store = pipelines.generate_signals({"strategies": STRATEGIES}, market=market)
    pipelines.write_store(store, folder)  # a real store on disk, read back by the replay
    replayed = pipelines.replay({"workflow": {"type": "signal_replay"}, "signals": folder, "portfolio": PORTFOLIO,
                                 "execution": {"commission": COMMISSIONS}}, market=market)
    return store, replayed


def dense_store_bytes(store, market, folder) -> int:
    """Bytes of the same signals stored densely: one row per combination and bar."""
    n = len(market.bars[0])
    parts = []
    for combo in store.combinations():
        index, values = store.changes[(combo.combo_id, market.bars[0].symbol)]
        parts.append(pa.table({"combo_id": pa.array([combo.combo_id] * n, pa.string()),
                               "bar_index": pa.array(np.arange(n)),
                               "value": pa.array(expand_changes(index, values, n))}))
    path = os.path.join(folder, "dense.parquet")
    pq.write_table(pa.concat_tables(parts), path)
    return os.path.getsize(path)


def folder_bytes(folder) -> int:
    return sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--peers-dir")
    args = parser.parse_args(argv)
    peers = benchlib.peers_dir(args.peers_dir)
    benchlib.ensure_synthetic("synth_100k", peers, log=print)
    market = load_market_data(DataSpec(path=benchlib.synthetic_path("synth_100k"), symbol="synth_100k"))
    bars = len(market.bars[0])
    full_backtests(market)  # warm-up
    with tempfile.TemporaryDirectory() as tmp:
        t_full, m_full, backtests = best_of(args.reps, lambda: full_backtests(market))
        counter = iter(range(args.reps))
        t_gr, m_gr, (store, replayed) = best_of(
            args.reps, lambda: generate_and_replay(market, os.path.join(tmp, f"store{next(counter)}")))
        store_dir = os.path.join(tmp, "store0")
        t_gen, _, _ = best_of(args.reps, lambda: pipelines.generate_signals({"strategies": STRATEGIES}, market=market))
        t_read, _, disk_store = best_of(args.reps, lambda: pipelines.read_store(store_dir))
        t_replay, _, _ = best_of(args.reps, lambda: pipelines.replay(
            {"workflow": {"type": "signal_replay"}, "signals": store_dir, "portfolio": PORTFOLIO,
             "execution": {"commission": COMMISSIONS}}, store=disk_store, market=market))
        sparse_bytes, dense_bytes = folder_bytes(store_dir), dense_store_bytes(store, market, tmp)

    combos = store.combos.num_rows
    expected = {(r["fast_period"], r["slow_period"], c): r["final_equity"]
                for c, b in zip(COMMISSIONS, backtests) for r in b.results.to_pylist()}
    got = {(r["fast_period"], r["slow_period"], r["execution_commission"]): r["final_equity"]
           for r in replayed.results.to_pylist()}
    mismatches = sum(expected[k] != got.get(k) for k in expected)
    print(f"\n## Generate once, replay many: {combos} combinations × {len(COMMISSIONS)} commissions on synth_100k "
          f"({bars:,} bars), best of {args.reps}\n")
    print("| way | wall s (best) | wall s (median) |\n|---|---|---|")
    print(f"| (a) {len(COMMISSIONS)} full backtests | {t_full:.3f} | {m_full:.3f} |")
    print(f"| (b) generate + write + replay | {t_gr:.3f} | {m_gr:.3f} |")
    print(f"\nratio (a)/(b): {t_full / t_gr:.2f}× (target 3×)")
    print(f"phases of (b): generate {t_gen:.3f} s, read store {t_read:.3f} s, replay {t_replay:.3f} s "
          f"({combos * len(COMMISSIONS)} lanes folded, no features or signals computed)")
    print(f"one full backtest ≈ {t_full / len(COMMISSIONS):.3f} s, of which signals/features ≈ {t_gen:.3f} s: "
          f"the fold and metrics every lane needs dominate both ways")
    print(f"store: {store.n_changes:,} changes of {store.dense_size:,} dense values; {sparse_bytes:,} bytes on disk "
          f"vs {dense_bytes:,} bytes dense ({dense_bytes / sparse_bytes:.0f}× smaller)")
    print(f"replay equals the full backtests: {'PASS' if not mismatches else f'FAIL ({mismatches} mismatches)'}")
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
