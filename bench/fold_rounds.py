#!/usr/bin/env python3
"""The sparse fold's floor: microseconds per round, before and after.

The sparse fold (``pipelines.engine.folds.fold_sparse``) runs in rounds: round k folds the k-th
order of every lane that has one, so the busiest lane sets the number of rounds and every round
pays a fixed cost (slicing the round's events, the container's dispatch, the fill step's numpy
calls) on top of its orders. This script times the fold alone — signals and schedules are
computed before the clock starts — on the W3 grid (SMA fast 5..50 step 1 × slow 20..200 step 20,
fast < slow: 418 lanes) of the 100,000-bar synthetic series:

* ``busiest lane``: the lane with the most orders (SMA 5/20, 12,555 orders), alone: nothing but
  rounds of one lane — the floor;
* ``all 418 lanes``: one fold of the whole grid (12,555 rounds, 691,491 orders);
* ``1 busy + 89 quiet``: the busiest lane with the 89 quietest (their orders end after ~700
  rounds; the busy lane's ~11,800 rounds after that are its own).

Each is the median of ``--reps`` runs (CPU time of this process, less sensitive than wall time
to a shared machine). ``--before PATH`` also runs this script on the checkout at ``PATH`` (e.g.
``git worktree add /tmp/base <commit>``) in a subprocess and prints both:

    /work/venv/bin/python bench/fold_rounds.py --before /tmp/base
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPEC = {"portfolio": {"initial_cash": 10_000}, "execution": {"commission": 0.002},
        "strategies": [{"type": "sma_crossover", "constraints": ["fast_period < slow_period"],
                        "parameters": {"fast_period": {"from": 5, "to": 50, "step": 1},
                                       "slow_period": {"from": 20, "to": 200, "step": 20}}}]}


def measure(reps: int, peers: str | None) -> dict:
    """Per-round figures of the three cases, on the checkout this interpreter imports."""
    sys.path.insert(0, os.path.join(REPO, "bench"))
    import benchlib
    import numpy as np

    import pipelines
    from pipelines.boundary.data import load_market_data
    from pipelines.engine.folds import fold_sparse
    from pipelines.engine.lanes import lane_settings, order_rules
    from pipelines.engine.patterns import PATTERNS, container_for
    from pipelines.engine.signals import computed_signals
    from state.spec import DataSpec

    path = benchlib.ensure_synthetic("synth_100k", benchlib.peers_dir(peers))["path"]
    market = load_market_data(DataSpec(path=path, symbol="synth_100k"))
    bars = market.bars[0]
    plan = pipelines.plan(SPEC)
    source = computed_signals(plan, bars, market)
    changes = [source.changes(c) for c in plan.combos]
    counts = np.array([len(c[0]) for c in changes])
    container = container_for(PATTERNS[plan.pattern])
    order = np.argsort(-counts, kind="stable")
    cases = {"busiest lane": [int(order[0])], "all 418 lanes": list(range(len(changes))),
             "1 busy + 89 quiet": [int(order[0])] + [int(i) for i in order[-89:]]}
    out = {}
    for label, lanes in cases.items():
        combos = [plan.combos[i] for i in lanes]
        settings, rules = lane_settings(combos, bars.symbol), order_rules(combos, bars)
        chosen = [changes[i] for i in lanes]
        fold_sparse(container, settings, chosen, bars, rules=rules)  # warm
        cpu = []
        for _ in range(reps):
            start = time.process_time()
            fold_sparse(container, settings, chosen, bars, rules=rules)
            cpu.append(time.process_time() - start)
        rounds = int(counts[lanes].max())
        seconds = statistics.median(cpu)
        out[label] = {"lanes": len(lanes), "rounds": rounds, "orders": int(counts[lanes].sum()), "seconds": seconds,
                      "us_per_round": seconds / rounds * 1e6}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--before", metavar="PATH", help="also measure the checkout at PATH (the 'before')")
    parser.add_argument("--peers-dir")
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # one measurement as JSON
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(measure(args.reps, args.peers_dir)))
        return 0
    runs = {}
    if args.before:
        command = [sys.executable, os.path.abspath(__file__), "--json", "--reps", str(args.reps)]
        if args.peers_dir:
            command += ["--peers-dir", args.peers_dir]
        env = dict(os.environ, PYTHONPATH=os.path.abspath(args.before))
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"the 'before' run failed:\n{done.stderr[-3000:]}")
        runs[f"before ({args.before})"] = json.loads(done.stdout.splitlines()[-1])
        print(f"$ PYTHONPATH={args.before} {' '.join(command)}")
    sys.path.insert(0, REPO)
    runs["after (this checkout)"] = measure(args.reps, args.peers_dir)
    print(f"$ {sys.executable} {' '.join(sys.argv)}\n")
    print(f"## Sparse fold: CPU per round, W3 grid on synth_100k (median of {args.reps})\n")
    print("| checkout | case | lanes | rounds | orders | fold s | µs per round |")
    print("|---|---|---|---|---|---|---|")
    for name, cases in runs.items():
        for label, r in cases.items():
            print(f"| {name} | {label} | {r['lanes']} | {r['rounds']:,} | {r['orders']:,} | {r['seconds']:.3f} | "
                  f"{r['us_per_round']:.1f} |")
    if len(runs) == 2:
        before, after = runs.values()
        print()
        for label in after:
            print(f"- {label}: {before[label]['us_per_round']:.1f} → {after[label]['us_per_round']:.1f} µs per round "
                  f"({before[label]['seconds'] / after[label]['seconds']:.2f}× faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
