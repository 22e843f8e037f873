#!/usr/bin/env python3
"""Optimization workloads: what the overfitting statistics cost, end to end and against vectorbt.

    /work/venv/bin/python bench/optimization.py                  # W2 (1M × 90) and W1 (100k × 90), ~3 min
    /work/venv/bin/python bench/optimization.py --reps 5 --skip-w2

An optimization is the same grid as a backtest plus its statistics: the probability of backtest
overfitting (CSCV over 12,870 splits of 16 blocks) and the deflated Sharpe ratio, from per-block
aggregates of every combination's returns (``fp.overfitting.ReturnBlocks``). Grid: the harness's
W1 (SMA fast 5..50 step 5 × slow 20..200 step 20, fast < slow: 90 combinations, long only, all
in, whole shares, next-open fills, 0.2 % per fill).

* **W2** (1,000,000 bars): ``admf run SPEC --out DIR`` of the grid as ``workflow: backtest`` and
  as ``workflow: optimization``, each end to end (interpreter, imports, CSV, run, files) in its
  own process under ``/usr/bin/time -v``, ``--reps`` times, medians. Targets: the optimization's
  peak RSS ≤ 1 GB and its wall time ≤ 1.25× the backtest's.
* **W1** (100,000 bars): the optimization's combo-bars/s against vectorbt's in the same run.
  vectorbt runs the harness's ``bench_vectorbt.py`` (its timed region: the grid from loaded
  data to final values and the best; no statistics); admf is timed the same way, in process
  with the data loaded (``pipelines.run(spec, market)`` + ``best()``, ``--reps`` runs after a
  warm-up, median) — the target, ≥ 8× vectorbt's combo-bars/s, is judged on that like-for-like
  figure. ``admf run`` end to end (process start and imports, CSV, files; what a user waits for)
  is printed beside it with its own ratio.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

TARGET_RSS_MB = 1024.0
TARGET_COST = 1.25
TARGET_VS_VECTORBT = 8.0
COMBOS = 90


def end_to_end(spec: str, out: str, reps: int) -> dict:
    figures, manifest = B.admf_runs(spec, out, reps)
    return {**figures, "overfitting": manifest.get("overfitting")}


def in_process(name: str, reps: int, peers: str) -> dict:
    """admf's optimization and backtest of the grid timed as the harness times vectorbt."""
    import bench_admf as A

    import pipelines
    A.setup(peers)
    market = A.load_market(name, peers)
    specs = {"backtest": A.spec(), "optimization": {**A.spec(), "workflow": {"type": "optimization"}}}
    for spec in specs.values():  # warm-up: imports, first calls
        pipelines.run(spec, market=A.head(market, 300))
    out = {}
    for label, spec in specs.items():
        walls = []
        for _ in range(reps):
            start = time.perf_counter()
            pipelines.run(spec, market=market).best()
            walls.append(time.perf_counter() - start)
        out[label] = {"wall_s": statistics.median(walls), "walls": [round(w, 3) for w in walls]}
    return out


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-w2", action="store_true")
    parser.add_argument("--skip-w1", action="store_true")
    parser.add_argument("--skip-vectorbt", action="store_true")
    parser.add_argument("--peers-dir")
    parser.add_argument("--peers-python", help="interpreter with vectorbt (see w1.py)")
    args = parser.parse_args(argv)
    peers = B.peers_dir(args.peers_dir)
    targets = []
    with tempfile.TemporaryDirectory(prefix="admf-opt-") as tmp:
        if not args.skip_w2:
            B.ensure_synthetic("synth_1m", peers)
            runs = {}
            for workflow in ("backtest", "optimization"):
                spec = os.path.join(tmp, f"w2_{workflow}.yaml")
                with open(spec, "w") as f:
                    f.write(B.spec_text("synth_1m", B.W1_GRID, workflow))
                runs[workflow] = end_to_end(spec, os.path.join(tmp, f"w2-{workflow}"), args.reps)
            print(f"\n## W2: 1,000,000 bars × {COMBOS} combinations, end to end (median of {args.reps})\n")
            print("| workflow | wall s | CPU s | peak RSS MB | runs (wall s) | runs (RSS MB) |\n|---|---|---|---|---|---|")
            for workflow, r in runs.items():
                print(f"| {workflow} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['walls']} | "
                      f"{r['rss']} |")
            for r in runs.values():
                print(f"  $ {r['command']}")
            o = runs["optimization"]["overfitting"]
            print(f"  overfitting statistics: PBO {o['pbo']:.4f} over {o['pbo_splits']:,} splits of {o['n_blocks']} "
                  f"blocks, deflated Sharpe {o['deflated_sharpe']:.4f} of {o['selected']}")
            cost = runs["optimization"]["wall_s"] / runs["backtest"]["wall_s"]
            targets.append((f"W2 optimization peak RSS {runs['optimization']['peak_rss_mb']:.0f} MB ≤ {TARGET_RSS_MB:.0f} MB",
                            runs["optimization"]["peak_rss_mb"] <= TARGET_RSS_MB))
            targets.append((f"W2 optimization wall {runs['optimization']['wall_s']:.2f} s = {cost:.2f}× the backtest's "
                            f"{runs['backtest']['wall_s']:.2f} s ≤ {TARGET_COST}×", cost <= TARGET_COST))
        if not args.skip_w1:
            import w1 as W
            B.ensure_synthetic("synth_100k", peers)
            spec = os.path.join(tmp, "w1_optimization.yaml")
            with open(spec, "w") as f:
                f.write(B.spec_text("synth_100k", B.W1_GRID, "optimization"))
            e2e = end_to_end(spec, os.path.join(tmp, "w1-optimization"), args.reps)
            admf = in_process("synth_100k", args.reps, peers)
            vectorbt = None
            python = W.peers_python(args.peers_python)
            if not args.skip_vectorbt and W.available_peers(python, ["vectorbt"]):
                records = W.run_peer("vectorbt", python, peers, ["--workloads", "W1", "--w1-datasets", "synth_100k"],
                                     time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
                walls = [r["wall_s"] for r in records if r.get("workload") == "W1" and r.get("dataset") == "synth_100k"]
                vectorbt = statistics.median(walls) if walls else None
            bars = 100_000
            rate = lambda seconds: COMBOS * bars / seconds
            print(f"\n## W1: 100,000 bars × {COMBOS} combinations, optimization vs vectorbt (same run)\n")
            print("| engine | timed | wall s | combo-bars/s | vs vectorbt |\n|---|---|---|---|---|")
            rows = [("admf optimization", "in process, data loaded (as the harness times vectorbt)",
                     admf["optimization"]["wall_s"]),
                    ("admf backtest", "in process, data loaded", admf["backtest"]["wall_s"]),
                    ("admf optimization", "`admf run` end to end: process, imports, CSV, files", e2e["wall_s"])]
            for engine, how, seconds in rows:
                ratio = f"{vectorbt / seconds:.1f}×" if vectorbt else "—"
                print(f"| {engine} | {how} | {seconds:.3f} | {rate(seconds):,.0f} | {ratio} |")
            if vectorbt:
                print(f"| vectorbt | harness bench_vectorbt.py W1 (final values + argmax) | {vectorbt:.3f} | "
                      f"{rate(vectorbt):,.0f} | 1.0× |")
            print(f"  admf in process: runs {admf['optimization']['walls']} (optimization), {admf['backtest']['walls']} "
                  "(backtest): pipelines.run(spec, market).best()")
            print(f"  $ {e2e['command']}  (runs {e2e['walls']} s, peak RSS {e2e['peak_rss_mb']:.0f} MB)")
            if vectorbt:
                print(f"  $ {python} bench_vectorbt.py --workloads W1 --w1-datasets synth_100k  (harness, {peers})")
                ratio = vectorbt / admf["optimization"]["wall_s"]
                targets.append((f"W1 optimization {rate(admf['optimization']['wall_s']):,.0f} combo-bars/s = {ratio:.1f}× "
                                f"vectorbt's {rate(vectorbt):,.0f} (in process, like for like) ≥ {TARGET_VS_VECTORBT:g}×",
                                ratio >= TARGET_VS_VECTORBT))
                print(f"  end to end, admf's optimization is {vectorbt / e2e['wall_s']:.1f}× vectorbt's timed region "
                      "(which leaves out its process start, imports and CSV read)")
            else:
                targets.append(("W1 optimization vs vectorbt: vectorbt not available", False))
    print("\nTargets:")
    for text, ok in targets:
        print(f"- {text} → {verdict(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
