#!/usr/bin/env python3
"""Report benchmark: what the HTML report costs next to the run it reports.

    /work/venv/bin/python bench/report.py              # W1 on GOOG (run vs report), then 1M bars x 90
    /work/venv/bin/python bench/report.py --skip-1m    # W1 only
    /work/venv/bin/python bench/report.py --reps 5

* **W1 on GOOG** as the user runs it: ``specs/sma_crossover.yaml`` (the peers' 90-combination SMA
  grid, ``workflow: optimization``: PBO and DSR too), the median of ``--reps`` runs of
  ``pipelines.run(SPEC_FILE, out=...)`` (spec file to files on disk) against the median of as many
  ``pipelines.report(run_dir)`` on the folder it wrote (no ``equity.parquet``: the report re-folds
  the ten combinations it shows). Target (issue 14): the report costs no more than the run. The
  same grid as a plain backtest (``bench_admf.spec()``, data loaded) is printed beside it for
  reference: a backtest of 2,148 bars is so quick that the report's fixed work (reading the
  folder and the data back, re-folding ten combinations, drawing) costs more than it.
* **1,000,000 bars x 90** (the harness's ``synth_1m``, generated into ``bench/data`` when missing):
  one run and one report; the report's size (target < 25 MB) and build time.

Each timing covers the whole call in this process after one untimed warm-up (imports and data
caches are warm), so it is what a second ``admf report`` in a notebook costs; a fresh ``admf report``
command adds Python's and plotly's import time (about half a second) once.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_admf as A  # noqa: E402

import pipelines  # noqa: E402

TARGET_MB = 25.0


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def w1(reps: int, work: str) -> None:
    market = A.load_market("GOOG")
    seed = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs", "sma_crossover.yaml")
    cases = (("specs/sma_crossover.yaml (optimization: + PBO, DSR)", lambda out: pipelines.run(seed, out=out), True),
             ("the same grid as a plain backtest, for reference", lambda out: pipelines.run(A.spec(), market=market,
                                                                                        out=out), False))
    for name, run_into, judged in cases:
        runs, reports = [], []
        for k in range(reps + 1):
            out = os.path.join(work, f"w1-{judged}-{k}")
            run = _timed(lambda out=out: run_into(out))
            report = _timed(lambda out=out: pipelines.report(out))
            if k:  # the first is the warm-up
                runs.append(run)
                reports.append(report)
        size = os.path.getsize(os.path.join(out, "report.html")) / 1e6
        run, report = statistics.median(runs), statistics.median(reports)
        verdict = f" -> {'PASS' if report <= run else 'FAIL'} (report <= run)" if judged else ""
        print(f"W1 GOOG, {name} (90 combos x 2,148 bars): run {run:.3f} s, report {report:.3f} s "
              f"({report / run:.2f}x the run), {size:.1f} MB{verdict}")


def one_million(work: str, peers: str | None) -> None:
    spec = A.spec()
    market = A.load_market("synth_1m", peers)
    spec = {**spec, "data": {"path": os.path.abspath(A.B.synthetic_path("synth_1m")), "symbol": "synth_1m"}}
    out = os.path.join(work, "w2")
    run = _timed(lambda: pipelines.run(spec, market=market, out=out))
    report = _timed(lambda: pipelines.report(out))
    size = os.path.getsize(os.path.join(out, "report.html")) / 1e6
    print(f"1M bars x 90 combos: run {run:.2f} s, report {report:.2f} s, {size:.1f} MB -> "
          f"{'PASS' if size < TARGET_MB else 'FAIL'} (< {TARGET_MB:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-1m", action="store_true")
    parser.add_argument("--peers-dir")
    args = parser.parse_args()
    A.setup(args.peers_dir)
    work = tempfile.mkdtemp(prefix="admf-bench-report-")
    try:
        w1(args.reps, work)
        if not args.skip_1m:
            one_million(work, args.peers_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
