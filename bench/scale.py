#!/usr/bin/env python3
"""Scale-out: W3 (418 SMA combinations) on 1,000,000 bars through a real Dask cluster of 1 and of 2 workers.

    /work/venv/bin/python bench/scale.py                    # 1M bars, 1 rep each (~3 min on 2 cores)
    /work/venv/bin/python bench/scale.py --reps 3 --local   # + the unchunked local run, for its time and tables
    /work/venv/bin/python bench/scale.py --bars 100k        # the 100,000-bar series (~30 s)
    /work/venv/bin/python bench/scale.py --same-chunks      # + 1 worker doing the 2-worker chunks

W3 (issue 15): fast 5..50 step 1 × slow 20..200 step 20, fast < slow (418 combinations),
``workflow: backtest``, the W1 settings (long only, next open, all in whole shares, 0.2 %).

For each cluster size a ``dask scheduler`` and that many ``dask worker`` processes (one thread
each) are started on localhost as subprocesses (``benchlib.dask_cluster``), warmed with a small run
(the workers' imports), then timed doing what a user runs: ``admf run SPEC --scheduler ADDRESS
--workers N --out DIR`` in a fresh process, spec file to files on disk (reading the CSV,
sending the data to the workers, the chunks, merging, writing). ``--workers N`` sizes the chunks
as a user would for that cluster (the cut with the least modelled wall time on N workers), so
the 1-worker run has fewer, larger chunks. The tables of every run must be byte-identical
(results and trades). Target: 2 workers ≥ 1.6 × one worker (PASS/FAIL), medians of ``--reps``.
Peak RSS is the client process's (``/usr/bin/time -v``); each worker holds the data and one chunk.
The workers' CPU seconds of each run (``os.times`` on every worker, before and after) show how
much of a core they got: on a machine busy with other work, two workers cannot run twice as fast.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

TARGET = 1.6
W3 = {"type": "sma_crossover",
      "parameters": {"fast_period": {"from": 5, "to": 50, "step": 1}, "slow_period": {"from": 20, "to": 200, "step": 20}},
      "constraints": ["fast_period < slow_period"]}
SETTINGS = {"workflow": {"type": "backtest"},
            "portfolio": {"initial_cash": 10000, "sizing": "all_in", "direction": "long_only"},
            "execution": {"fill": "next_open", "commission": 0.002, "slippage_bps": 0}}
WARM_UP = {"data": {"dataset": "GOOG"}, "strategies": [{"type": "sma_crossover"}]}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def shown(*args: str) -> str:
    return "admf " + " ".join(os.path.relpath(a, B.REPO) if os.path.isabs(a) and a.startswith(B.REPO) else a
                              for a in args)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bars", choices=("1m", "100k"), default="1m")
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--local", action="store_true", help="also time the unchunked run in one process")
    parser.add_argument("--same-chunks", action="store_true",
                        help="also run the 1-worker cluster with the 2-worker chunks (the spread alone)")
    parser.add_argument("--peers-dir")
    a = parser.parse_args(argv)
    dataset = {"1m": "synth_1m", "100k": "synth_100k"}[a.bars]
    data = B.ensure_synthetic(dataset, B.peers_dir(a.peers_dir), log=log)["path"]
    os.makedirs(B.DATA_DIR, exist_ok=True)
    spec = os.path.join(B.DATA_DIR, f"w3_{dataset}.yaml")
    with open(spec, "w") as f:
        json.dump({**SETTINGS, "data": {"path": data}, "strategies": [W3]}, f, indent=1)
    warm = os.path.join(B.DATA_DIR, "warm_up.yaml")
    with open(warm, "w") as f:
        json.dump(WARM_UP, f)
    bars = B.SYNTHETIC[dataset][0]
    rows, outs = [], {}
    with tempfile.TemporaryDirectory(prefix="admf-scale-") as work:
        if a.local:
            walls = []
            for rep in range(a.reps):
                outs["local"] = os.path.join(work, f"local-{rep}")
                wall, rss, _ = B.admf_run(spec, outs["local"])
                walls.append(wall)
                log(f"  local rep {rep + 1}: {wall:.1f} s, {rss or 0:,.0f} MB")
            rows.append(("in one process, unchunked", shown("run", spec, "--out", "OUT"), walls, rss, 1, None))
        from distributed import Client
        runs = [(1, 1), (2, 2)] + ([(1, 2)] if a.same_chunks else [])  # (cluster workers, --workers)
        for workers in (1, 2):
            with B.dask_cluster(workers, os.path.join(work, f"cluster-{workers}")) as address, \
                    Client(address) as client:
                B.admf_run(warm, os.path.join(work, f"warm-{workers}"), "--scheduler", address)
                for cluster, sized in runs:
                    if cluster != workers:
                        continue
                    key = workers if sized == workers else f"{workers}w, {sized}w chunks"
                    walls, cpu = [], []
                    for rep in range(a.reps):
                        outs[key] = os.path.join(work, f"dask{workers}-{sized}-{rep}")
                        before = client.run(os.times)
                        wall, rss, _ = B.admf_run(spec, outs[key], "--scheduler", address, "--workers", str(sized))
                        after = client.run(os.times)
                        cpu.append(sum(after[w].user + after[w].system - before[w].user - before[w].system
                                       for w in before))
                        walls.append(wall)
                        log(f"  {workers} worker(s), chunks for {sized}, rep {rep + 1}: {wall:.1f} s, workers' CPU "
                            f"{cpu[-1]:.1f} s, {rss or 0:,.0f} MB")
                    with open(os.path.join(outs[key], "manifest.json")) as f:
                        chunks = json.load(f)["executor"]["chunks"]
                    label = f"dask, {workers} worker(s)" + ("" if sized == workers else f", the {sized}-worker chunks")
                    rows.append((label, shown("run", spec, "--scheduler", "tcp://127.0.0.1:PORT", "--workers",
                                              str(sized), "--out", "OUT"), walls, rss, chunks, cpu))
        same = all(filecmp.cmp(os.path.join(outs[1], name), os.path.join(outs[other], name), shallow=False)
                   for other in outs if other != 1 for name in ("results.parquet", "trades.parquet"))
    print(f"\n## Dask scale-out: W3, 418 combinations × {bars:,} bars (admf run end to end; median of {a.reps}; "
          f"{os.cpu_count()} cores, shared)\n")
    print("| run | command | chunks | wall s (median) | wall s (all) | combo-bars/s | workers' CPU s (median) | "
          "client peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    medians = {}
    for label, command, walls, rss, chunks, cpu in rows:
        wall = statistics.median(walls)
        medians[label] = wall
        print(f"| {label} | `{command}` | {chunks} | {wall:.2f} | {', '.join(f'{w:.2f}' for w in walls)} | "
              f"{418 * bars / wall:,.0f} | {'—' if cpu is None else f'{statistics.median(cpu):.1f}'} | {rss or 0:,.0f} |")
    speedup = medians["dask, 1 worker(s)"] / medians["dask, 2 worker(s)"]
    print(f"\nTargets:\n- 2 workers ≥ {TARGET}× one worker: {speedup:.2f}× → {'PASS' if speedup >= TARGET else 'FAIL'}")
    same = "dask, 1 worker(s), the 2-worker chunks"
    if same in medians:
        print(f"  with the same chunks on both clusters (the spread alone): "
              f"{medians[same] / medians['dask, 2 worker(s)']:.2f}×")
    print("  (workers' CPU s / wall s / workers = the share of a core each worker got: below ~0.9 the machine was "
          "busy with other work)")
    print(f"- results.parquet and trades.parquet byte-identical across {', '.join(map(str, outs))}: "
          f"{'PASS' if same else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
