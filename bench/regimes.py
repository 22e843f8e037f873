"""The seed workflow with regime classifiers, timed: one run, and generate-once/replay-many.

1. ``specs/seed_large.yaml`` (6 momentum × 9 hmm/svm/random_forest classifier points = 54 lanes)
   on the bundled GOOG data: wall time and the number of classifier fits (one per distinct
   classifier point, shared by the 6 strategy points crossed with it).
2. The same sweep over a 4-point commission grid, (a) as 4 full runs (one per commission: every
   run fits its classifiers again) vs (b) one signal generation (features, signals, fits once) plus
   one replay over the grid. Prints (a)/(b) and (a)/replay alone: the fits are paid once by (b) and
   never by a replay, so the replay alone is what reuse saves each further time.

    python bench/regimes.py [--reps 3]        # needs the regimes extra (hmmlearn, scikit-learn)
"""
from __future__ import annotations

import argparse
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import pipelines  # noqa: E402
from pipelines.boundary.data import load_market_data  # noqa: E402
from pipelines.boundary.specs import spec_from_yaml  # noqa: E402
from state.spec import DataSpec  # noqa: E402

SEED = os.path.join(REPO, "specs", "seed_large.yaml")
COMMISSIONS = [0.0005, 0.001, 0.002, 0.004]


def best_of(reps, fn):
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def doc_with(**changes) -> dict:
    import yaml
    with open(SEED) as f:
        doc = yaml.safe_load(f)
    doc.update(changes)
    return doc


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    market = load_market_data(DataSpec(dataset="GOOG"))
    spec = spec_from_yaml(SEED)
    pipelines.run(spec, market=market)  # warm-up (imports of hmmlearn and scikit-learn)
    t_seed, result = best_of(args.reps, lambda: pipelines.run(spec, market=market))
    fits = result.manifest["classifier_fits"]
    print(f"\n## Seed workflow (specs/seed_large.yaml) on GOOG ({len(market.bars[0]):,} bars), best of {args.reps}\n")
    print(f"{result.results.num_rows} lanes in {t_seed:.3f} s with {fits} classifier fits "
          f"(one per classifier point; {result.results.num_rows // max(fits, 1)} strategy lanes share each)")

    full = [doc_with(execution={"commission": c}) for c in COMMISSIONS]
    t_full, _ = best_of(args.reps, lambda: [pipelines.run(d, market=market) for d in full])
    t_gen, store = best_of(args.reps, lambda: pipelines.generate_signals(spec, market=market))
    replay_doc = {"workflow": {"type": "signal_replay"}, "signals": "in-memory", "execution": {"commission": COMMISSIONS}}
    t_replay, replayed = best_of(args.reps, lambda: pipelines.replay(replay_doc, store=store, market=market))
    expected = {}
    for c, d in zip(COMMISSIONS, full):
        for r in pipelines.run(d, market=market).results.to_pylist():
            expected[(r["lookback_period"], r["signal_threshold"], r["classifier_model_type"], r["classifier_lookback_days"], c)] = r["final_equity"]
    got = {(r["lookback_period"], r["signal_threshold"], r["classifier_model_type"], r["classifier_lookback_days"], r["execution_commission"]):
           r["final_equity"] for r in replayed.results.to_pylist()}
    mismatches = sum(expected[k] != got.get(k) for k in expected)
    print(f"\n## {result.results.num_rows} combinations × {len(COMMISSIONS)} commissions\n")
    print("| way | wall s (best) |\n|---|---|")
    print(f"| (a) {len(COMMISSIONS)} full runs | {t_full:.3f} |")
    print(f"| (b) generate ({store.n_changes:,} changes, {fits} fits) + replay | {t_gen + t_replay:.3f} "
          f"({t_gen:.3f} + {t_replay:.3f}) |")
    print(f"\n(a)/(b): {t_full / (t_gen + t_replay):.2f}×;  (a)/replay alone: {t_full / t_replay:.1f}× (target 5×)")
    print(f"(b) pays the classifier fits once; a replay pays none: (a)/(b) cannot exceed "
          f"{len(COMMISSIONS)} × (full run / generation) = {len(COMMISSIONS) * (t_full / len(COMMISSIONS)) / t_gen:.2f}× here")
    print(f"replay equals the full runs: {'PASS' if not mismatches else f'FAIL ({mismatches} mismatches)'}")
    return 0 if not mismatches else 1


if __name__ == "__main__":
    sys.exit(main())
