"""``admf lookahead`` against one ``admf run`` of the same spec: wall times and their ratio.

The look-ahead check runs the spec's dense work (features, signals, classifier fits) once on the
whole data and twice per cut on shorter data, and the sparse fold each time, with no metrics,
tables or files; a run does the dense work once, then the fold, the metrics, the overfitting
statistics and writes its folder. Both are timed two ways, best (and median) of ``--reps``:

* in process: ``pipelines.run(spec, out=...)`` vs ``pipelines.lookahead(spec)``, after one
  untimed call of each (imports, the bundled data's first read);
* end to end: ``python -m pipelines.cli.main run SPEC --out DIR`` vs ``... lookahead SPEC`` as
  subprocesses (interpreter start and imports included, as a user meets them).

    python bench/lookahead.py [--spec specs/seed.yaml] [--cuts 4] [--reps 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

import pipelines  # noqa: E402


def timed(reps: int, fn) -> tuple[float, float]:
    """Best and median wall time of ``reps`` calls of ``fn``."""
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default=os.path.join("specs", "seed.yaml"))
    parser.add_argument("--cuts", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    os.chdir(REPO)
    work = tempfile.mkdtemp(prefix="admf-bench-lookahead-")
    count = iter(range(10**6))

    def run_in_process():
        pipelines.run(args.spec, out=os.path.join(work, f"run-{next(count)}"))

    def check_in_process():
        report = pipelines.lookahead(args.spec, cuts=args.cuts)
        assert not report.found, report.findings[:3]

    env = {**os.environ, "PYTHONPATH": REPO}

    def cli(*argv):
        done = subprocess.run([sys.executable, "-m", "pipelines.cli.main", *argv], env=env, capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise SystemExit(f"admf {' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")

    try:
        run_in_process()
        check_in_process()
        run = timed(args.reps, run_in_process)
        check = timed(args.reps, check_in_process)
        run_cli = timed(args.reps, lambda: cli("run", args.spec, "--out", os.path.join(work, f"cli-{next(count)}")))
        check_cli = timed(args.reps, lambda: cli("lookahead", args.spec, "--cuts", str(args.cuts)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    plan = pipelines.plan(args.spec)
    print(f"admf lookahead vs admf run on {args.spec} ({len(plan.combos)} combinations, {args.cuts} cuts), "
          f"best (median) of {args.reps}")
    print(f"{'':<12}{'admf run':>18}{'admf lookahead':>20}{'ratio':>8}")
    for name, (a, b) in (("in process", (run, check)), ("end to end", (run_cli, check_cli))):
        print(f"{name:<12}{a[0]:>9.3f} s ({a[1]:.3f}){b[0]:>11.3f} s ({b[1]:.3f}){b[0] / a[0]:>7.2f}x")


if __name__ == "__main__":
    main()
