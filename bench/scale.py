"""Scale-out: a sweep of 1,050 combinations on the 100,000-bar series with 1 and 2 Dask workers.

A ``LocalCluster`` of 1 worker and one of 2 workers (processes, one thread each) are started
before timing; the sweep joins each by address (``--scheduler``), in chunks of the same size, so
the ratio measures the work spread over the workers, not cluster start-up. Results of both runs
and of the in-process run are checked equal. For the 1,000,000-bar memory figures (W2), see
``w1.py --w2``.

    python bench/scale.py [--chunk-lanes 66]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import benchlib  # noqa: E402
import pipelines  # noqa: E402
from pipelines.workflows import modes  # noqa: E402
from pipelines.boundary.data import load_market_data  # noqa: E402
from state.spec import DataSpec, ExecutionOptions  # noqa: E402

SPEC = {"portfolio": {"initial_cash": 10_000}, "execution": {"commission": 0.002},
        "strategies": [{"type": "sma_crossover",
                        "parameters": {"fast_period": {"from": 2, "to": 60, "step": 2},
                                       "slow_period": {"from": 70, "to": 410, "step": 10}}}]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-lanes", type=int, default=66)
    parser.add_argument("--peers-dir")
    args = parser.parse_args(argv)
    from dask.distributed import LocalCluster
    benchlib.ensure_synthetic("synth_100k", benchlib.peers_dir(args.peers_dir), log=print)
    market = load_market_data(DataSpec(path=benchlib.synthetic_path("synth_100k"), symbol="synth_100k"))
    plan = pipelines.plan(SPEC)
    combos = len(plan.combos)
    planned = modes.plan_chunks
    size = args.chunk_lanes
    modes.plan_chunks = lambda *a, **k: planned(*a, **k, chunks=[range(i, min(i + size, combos))
                                                                for i in range(0, combos, size)])
    try:
        t0 = time.perf_counter()
        local = pipelines.run(SPEC, market=market)
        t_local = time.perf_counter() - t0
        times = {}
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                options = ExecutionOptions("dask", workers=workers, scheduler=cluster.scheduler_address)
                pipelines.run(SPEC, market=market, execution=options)  # warm the workers (imports)
                with tempfile.TemporaryDirectory() as tmp:
                    t0 = time.perf_counter()
                    result = pipelines.run(SPEC, market=market, execution=options, out=os.path.join(tmp, "run"))
                    times[workers] = time.perf_counter() - t0
                ours, theirs = result.results.to_pandas(), local.results.to_pandas()
                differing = [c for c in theirs.columns if c not in ours or not ours[c].equals(theirs[c])]
                print(f"{workers} worker(s): {times[workers]:.2f} s; results equal the in-process run: "
                      f"{not differing}{'' if not differing else f' (columns differing: {differing})'}")
    finally:
        modes.plan_chunks = planned
    chunks = -(-combos // args.chunk_lanes)
    print(f"\n## Dask scale-out: {combos} combinations × {len(market.bars[0]):,} bars, {chunks} chunks of "
          f"{args.chunk_lanes} lanes\n")
    print("| run | wall s | combo-bars/s |\n|---|---|---|")
    bars = len(market.bars[0])
    print(f"| in process, one chunk | {t_local:.2f} | {combos * bars / t_local:,.0f} |")
    for workers, t in times.items():
        print(f"| dask, {workers} worker(s) | {t:.2f} | {combos * bars / t:,.0f} |")
    speedup = times[1] / times[2]
    print(f"\nspeed-up 1 → 2 workers: {speedup:.2f}× (target 1.6×) → {'PASS' if speedup >= 1.6 else 'FAIL'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
