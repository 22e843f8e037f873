#!/usr/bin/env python3
"""W3: the 418-combination dense SMA grid under memory budgets, timed as a user runs it.

    /work/venv/bin/python bench/w3.py                 # 100k and 1M bars, 3 runs each (~5 min)
    /work/venv/bin/python bench/w3.py --reps 1 --sizes 100k

W3 (issue 15): SMA crossover, fast 5..50 step 1 × slow 20..200 step 20, fast < slow (418
combinations), ``workflow: backtest``, the harness's semantics (10,000 cash, long only, all in,
whole shares, next-open fills, 0.2 % per fill), on the 100,000- and 1,000,000-bar synthetic
series. Every figure is ``admf run SPEC --out DIR [--memory-limit SIZE]`` end to end — interpreter
start, imports, reading the CSV, the run, writing the folder — in its own process under
``/usr/bin/time -v`` (wall time, CPU time, peak RSS); each configuration ``--reps`` times, the
median shown. The bounded runs' tables are checked byte for byte against the unbounded run's.

Targets:

* 1M bars under ``--memory-limit 700MB``: peak RSS ≤ 1 GB;
* 100k bars under ``--memory-limit 150MB``: peak RSS ≤ 400 MB and wall time ≤ 1.5× the
  unbounded run's;
* every bounded run honours its budget: peak RSS ≤ budget + the interpreter's baseline (a
  process that imports admf and lets pyarrow import pandas, as every run does; measured here).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

SIZES = {"100k": ("synth_100k", "150MB", 150), "1m": ("synth_1m", "700MB", 700)}
TARGET_RSS_1M_MB = 1024.0
TARGET_RSS_100K_MB = 400.0
TARGET_SLOWDOWN = 1.5


def run_config(spec: str, out: str, budget: str | None, reps: int) -> dict:
    """``reps`` end-to-end runs of one configuration; medians, and the last run's chunking."""
    figures, manifest = B.admf_runs(spec, out, reps, *(["--memory-limit", budget] if budget else []))
    return {**figures, "chunking": (manifest.get("executor") or {}).get("chunking"),
            "run_seconds": manifest["run_seconds"]}


def same_files(a: str, b: str) -> bool:
    return all(open(os.path.join(a, name), "rb").read() == open(os.path.join(b, name), "rb").read()
               for name in ("results.parquet", "trades.parquet"))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sizes", default="100k,1m", help="which series: 100k, 1m")
    parser.add_argument("--peers-dir")
    args = parser.parse_args(argv)
    peers = B.peers_dir(args.peers_dir)
    baseline = B.interpreter_baseline_mb(B.admf_env())
    print(f"$ /usr/bin/time -v {sys.executable} -c 'import pipelines.cli.main'  → peak RSS {baseline['bare']:.0f} MB")
    print(f"$ /usr/bin/time -v {sys.executable} -c 'import pipelines.cli.main, pyarrow as pa; pa.array([1])'  → "
          f"peak RSS {baseline['with_pandas']:.0f} MB (the interpreter's baseline of an admf run: pyarrow imports "
          "pandas when it first builds an array from a list)")
    base = baseline["with_pandas"]
    targets = []
    with tempfile.TemporaryDirectory(prefix="admf-w3-") as tmp:
        for size in args.sizes.split(","):
            name, budget, budget_mb = SIZES[size]
            B.ensure_synthetic(name, peers)
            spec = os.path.join(tmp, f"w3_{size}.yaml")
            with open(spec, "w") as f:
                f.write(B.spec_text(name, B.W3_GRID))
            unbounded = run_config(spec, os.path.join(tmp, f"{size}-unbounded"), None, args.reps)
            bounded = run_config(spec, os.path.join(tmp, f"{size}-{budget}"), budget, args.reps)
            same = same_files(os.path.join(tmp, f"{size}-unbounded"), os.path.join(tmp, f"{size}-{budget}"))
            print(f"\n## W3 on {name} (418 combinations, median of {args.reps})\n")
            print("| run | wall s | CPU s | peak RSS MB | runs (wall s) | runs (RSS MB) | chunks |")
            print("|---|---|---|---|---|---|---|")
            for label, r in (("unbounded", unbounded), (f"--memory-limit {budget}", bounded)):
                c = r["chunking"]
                chunks = f"{c['chunks']} ({'/'.join(map(str, c['combinations']))} combos; {sum(c['rounds']):,} rounds)" \
                    if c else "1"
                print(f"| {label} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['peak_rss_mb']:.0f} | {r['walls']} | "
                      f"{r['rss']} | {chunks} |")
            for r in (unbounded, bounded):
                print(f"  $ {r['command']}")
            print(f"  results.parquet and trades.parquet of both runs byte for byte equal: {same}")
            ratio = bounded["wall_s"] / unbounded["wall_s"]
            honoured = bounded["peak_rss_mb"] <= budget_mb + base
            if size == "1m":
                targets.append((f"1M bars under --memory-limit 700MB: peak RSS {bounded['peak_rss_mb']:.0f} MB ≤ "
                                f"{TARGET_RSS_1M_MB:.0f} MB", bounded["peak_rss_mb"] <= TARGET_RSS_1M_MB))
            else:
                targets.append((f"100k bars under --memory-limit 150MB: peak RSS {bounded['peak_rss_mb']:.0f} MB ≤ "
                                f"{TARGET_RSS_100K_MB:.0f} MB", bounded["peak_rss_mb"] <= TARGET_RSS_100K_MB))
                targets.append((f"100k bars under --memory-limit 150MB: wall {bounded['wall_s']:.2f} s = {ratio:.2f}× "
                                f"the unbounded {unbounded['wall_s']:.2f} s ≤ {TARGET_SLOWDOWN}×", ratio <= TARGET_SLOWDOWN))
            targets.append((f"{name} budget honoured: peak RSS {bounded['peak_rss_mb']:.0f} MB ≤ {budget_mb} MB + "
                            f"baseline {base:.0f} MB", honoured))
            targets.append((f"{name}: bounded and unbounded tables identical", same))
    print("\nTargets:")
    for text, ok in targets:
        print(f"- {text} → {verdict(ok)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
