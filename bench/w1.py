#!/usr/bin/env python3
"""W1 benchmark: admf vs vectorbt vs backtesting.py on the 90-combo SMA grid, in one run.

    /work/venv/bin/python bench/w1.py                      # W1 on GOOG and synth_100k, peers included
    /work/venv/bin/python bench/w1.py --skip-backtesting   # without backtesting.py (~60 s saved)
    /work/venv/bin/python bench/w1.py --w2                 # also W2: 1,000,000 bars, peak RSS per process
    /work/venv/bin/python bench/w1.py --skip-w1 --w2       # W2 only

W1 (peer harness semantics, ``<peers>/README.md``): long-only SMA crossover, fast 5..50 step 5 ×
slow 20..200 step 20, fast < slow (90 combos), next-open fills, all-in whole shares, 0.2 % per fill.

* admf runs in this process (``bench_admf.py``): one untimed warm-up, then ``--reps`` (3) timed
  runs per data set; the table shows the median and the min.
* the peers run once each, as subprocesses of the peers' interpreter (``--peers-python``; default
  ``<repo>/../venv-peers/bin/python``, ``/work/venv-peers/bin/python``, else this interpreter),
  through the harness's own ``bench_vectorbt.py`` / ``bench_backtesting.py`` (serial mode), with
  their synthetic data redirected to ``bench/data``. An engine that cannot be imported is skipped
  with a note.
* every combo's final equity is cross-checked against each peer (|Δ| ≤ 1e-4: the harness rounds
  to 4 decimals), and the targets are printed with PASS/FAIL: admf ≥ 5× vectorbt and ≥ 200×
  backtesting.py (serial) on synth_100k, by median wall time.
* ``--w2``: admf and vectorbt each on 1,000,000 bars in their own process under ``/usr/bin/time -v``
  (peak RSS of the whole process; target: admf ≤ 1 GB).

Records (harness JSON schema, plus a ``meta`` line) go to ``bench/results-w1.jsonl`` (W1) and
``bench/results-w2.jsonl`` (W2); an existing file is moved to ``*.prev.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_admf as A  # noqa: E402
import benchlib as B  # noqa: E402

TARGET_VS_VECTORBT = 5.0
TARGET_VS_BACKTESTING = 200.0
TARGET_RSS_MB = 1024.0
TARGET_DATASET = "synth_100k"
TOLERANCE = 1e-4 + 1e-9  # the harness rounds equity to 4 decimals

# Runs a peer script with the harness's `common` importing data from bench/data.
_PEER_WRAPPER = (
    "import runpy, sys\n"
    "peers, data, script = sys.argv[1:4]\n"
    "sys.path.insert(0, peers)\n"
    "import common\n"
    "common.DATA_DIR = data\n"
    "sys.argv = [script] + sys.argv[4:]\n"
    "runpy.run_path(script, run_name='__main__')\n"
)
_PEERS = {  # engine label -> (module to import, harness script, extra W1 args)
    "vectorbt": ("vectorbt", "bench_vectorbt.py", []),
    "backtesting.py": ("backtesting", "bench_backtesting.py", ["--modes", "serial", "--policy", "full"]),
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- peers ------------------------------------------------------------------------------------


def peers_python(given: str | None) -> str:
    """The interpreter for the peer engines (see the module docstring)."""
    if given:
        return given
    for candidate in (os.path.join(B.REPO, "..", "venv-peers", "bin", "python"), "/work/venv-peers/bin/python"):
        if os.path.exists(candidate):
            return os.path.abspath(candidate)
    return sys.executable


def can_import(python: str, module: str) -> bool:
    done = subprocess.run([python, "-c", f"import {module}"], capture_output=True)
    return done.returncode == 0


def peer_env(run_id: str) -> dict:
    env = dict(os.environ, TQDM_DISABLE="1", PYTHONHASHSEED="0", PYTHONWARNINGS="ignore",
               BENCH_RUN_ID=run_id, BENCH_REP="1")
    env.pop("PYTHONPATH", None)
    return env


def parse_records(stdout: str) -> list[dict]:
    out = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def run_measured(cmd: list[str], env: dict) -> tuple[list[dict], float | None, str]:
    """Run ``cmd`` in its own process; returns (its JSON records, its peak RSS in MB, how measured).

    Peak RSS comes from ``/usr/bin/time -v`` when present, else from ``getrusage(RUSAGE_CHILDREN)``
    (valid when this child is the largest one so far; otherwise the record's own ``peak_rss_mb_self``).
    """
    if os.access("/usr/bin/time", os.X_OK):
        with tempfile.NamedTemporaryFile("r", suffix=".time") as tv:
            done = subprocess.run(["/usr/bin/time", "-v", "-o", tv.name, *cmd], env=env,
                                  capture_output=True, text=True)
            text = tv.read()
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        rss, how = (int(m.group(1)) / 1024 if m else None), "/usr/bin/time -v"
    else:
        import resource
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rss, how = (after / 1024, "getrusage(RUSAGE_CHILDREN)") if after > before else (None, "")
    records = parse_records(done.stdout)
    if done.returncode != 0 or not records:
        log(f"  FAILED ({done.returncode}): {' '.join(cmd[-6:])}\n{done.stderr[-2000:]}")
    if rss is None and records and "peak_rss_mb_self" in records[-1]:
        rss, how = records[-1]["peak_rss_mb_self"], "child's own getrusage(RUSAGE_SELF)"
    return records, rss, how


def run_peer(engine: str, python: str, peers: str, args: list[str], run_id: str, measured=False):
    """One harness script of ``engine`` in a subprocess; its records (and peak RSS when ``measured``)."""
    _, script, _ = _PEERS[engine]
    cmd = [python, "-c", _PEER_WRAPPER, peers, B.DATA_DIR, os.path.join(peers, script), *args]
    if measured:
        return run_measured(cmd, peer_env(run_id))
    done = subprocess.run(cmd, env=peer_env(run_id), capture_output=True, text=True)
    records = parse_records(done.stdout)
    if done.returncode != 0 or not records:
        log(f"  {engine} FAILED ({done.returncode}):\n{done.stderr[-2000:]}")
    return records


def available_peers(python: str, wanted: list[str]) -> list[str]:
    out = []
    for engine in wanted:
        module = _PEERS[engine][0]
        if can_import(python, module):
            out.append(engine)
        else:
            log(f"note: {engine} skipped: `import {module}` fails with {python} (use --peers-python)")
    return out


# ---- admf -------------------------------------------------------------------------------------


def admf_w1(datasets: list[str], reps: int, run_id: str, peers: str) -> list[dict]:
    """W1 through admf in this process: a warm-up, then ``reps`` timed runs per data set."""
    info = A.env()
    goog = A.load_market("GOOG", peers)
    warm = A.warmup(goog)
    records = []
    for ds in datasets:
        market = goog if ds == "GOOG" else A.load_market(ds, peers)
        for rep in range(1, reps + 1):
            rec = A.w1(market, ds, warm)
            rec.update(env=info, run_id=run_id, rep=rep)
            records.append(rec)
        log(f"  admf {ds}: " + ", ".join(f"{r['wall_s']:.4f}" for r in records[-reps:]) + " s")
    return records


# ---- report -----------------------------------------------------------------------------------


def label(rec: dict) -> str:
    return f"{rec['engine']} ({rec['mode']})" if rec.get("mode") and rec["engine"] == "backtesting.py" else rec["engine"]


def summarize(records: list[dict]) -> dict:
    """``{(dataset, engine label): {"median", "min", "n", "bars", "rec"}}`` over W1/W2 records."""
    groups: dict = {}
    for r in records:
        groups.setdefault((r["dataset"], label(r)), []).append(r)
    out = {}
    for key, rs in groups.items():
        walls = [r["wall_s"] for r in rs]
        out[key] = {"median": statistics.median(walls), "min": min(walls), "n": len(walls),
                    "bars": rs[0]["bars"], "rec": rs[0]}
        extra = [r["wall_s_incl_extra_metrics"] for r in rs if "wall_s_incl_extra_metrics" in r]
        if extra:  # vectorbt's time including max drawdown + trade count of every combo
            out[(key[0], key[1] + " +DD,trades")] = {"median": statistics.median(extra), "min": min(extra),
                                                     "n": len(extra), "bars": rs[0]["bars"], "rec": rs[0]}
    return out


def print_table(summary: dict, datasets: list[str], rss: dict | None = None) -> None:
    """Markdown table: admf speed-up = engine wall / admf wall (× throughput), median (min in brackets)."""
    head = "| dataset | engine | runs | wall s (median) | wall s (min) | combo-bars/s (median) | admf speed-up × (median; min) |"
    if rss is not None:
        head += " peak RSS MB |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for ds in datasets:
        admf = summary.get((ds, "admf"))
        for (d, eng), s in summary.items():
            if d != ds:
                continue
            cbps = 90 * s["bars"] / s["median"]
            if eng == "admf" or admf is None:
                ratio = "—"
            else:
                ratio = f"{s['median'] / admf['median']:.1f} ; {s['min'] / admf['min']:.1f}"
            row = f"| {ds} | {eng} | {s['n']} | {s['median']:.4f} | {s['min']:.4f} | {cbps:,.0f} | {ratio} |"
            if rss is not None:
                value = rss.get((ds, eng))
                row += f" {value:,.0f} |" if value else " — |"
            print(row)


def cross_check(records: list[dict]) -> int:
    """Print, per (dataset, peer), the per-combo final-equity comparison with admf; returns mismatches."""
    admf = {}  # dataset -> admf's best record (the first repetition)
    for r in records:
        if r["engine"] == "admf":
            first = admf.setdefault(r["dataset"], r["best"])
            if first["final_equity_by_combo"] != r["best"]["final_equity_by_combo"]:
                print(f"- {r['dataset']} · admf: repetitions disagree")
    total = 0
    for r in records:
        if r["engine"] == "admf" or r["dataset"] not in admf:
            continue
        ours, theirs = admf[r["dataset"]], r["best"]
        mine, other = ours["final_equity_by_combo"], theirs["final_equity_by_combo"]
        keys = sorted(set(mine) | set(other), key=lambda k: tuple(map(int, k.split("-"))))
        bad = [k for k in keys if k not in mine or k not in other or abs(mine[k] - other[k]) > TOLERANCE]
        worst = max((abs(mine[k] - other[k]) for k in keys if k in mine and k in other), default=float("nan"))
        print(f"- {r['dataset']} · admf vs {label(r)}: {len(other)} combos compared, "
              f"max |Δ equity| = {worst:.6f}, mismatches: {len(bad)}")
        for k in bad[:10]:
            print(f"    {k}: admf {mine.get(k)} vs {label(r)} {other.get(k)}")
        if (ours["fast"], ours["slow"]) != (theirs["fast"], theirs["slow"]):
            print(f"    best combo differs: admf {ours['fast']}/{ours['slow']}, {label(r)} {theirs['fast']}/{theirs['slow']}")
            bad.append("best")
        total += len(bad)
    return total


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def print_w1_targets(summary: dict) -> None:
    admf = summary.get((TARGET_DATASET, "admf"))
    for engine, target in (("vectorbt", TARGET_VS_VECTORBT), ("backtesting.py (serial)", TARGET_VS_BACKTESTING)):
        peer = summary.get((TARGET_DATASET, engine))
        if admf is None or peer is None:
            print(f"- admf ≥ {target:g}× {engine} on {TARGET_DATASET}: not measured")
            continue
        ratio = peer["median"] / admf["median"]
        print(f"- admf ≥ {target:g}× {engine} on {TARGET_DATASET}: {ratio:.1f}× "
              f"({peer['median']:.3f} s / {admf['median']:.3f} s median; {peer['min'] / admf['min']:.1f}× by min) "
              f"→ {verdict(ratio >= target)}")


# ---- output -----------------------------------------------------------------------------------


def meta(run_id: str, data: dict) -> dict:
    cpu = ""
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"workload": "meta", "run_id": run_id, "env": A.env(), "cpu": cpu, "kernel": platform.release(),
            "mem_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "data_sha256": {k: v["sha256"] for k, v in data.items()},
            "data_sha256_ok": {k: v["ok"] for k, v in data.items()}}


def write_jsonl(path: str, records: list[dict]) -> None:
    if os.path.exists(path):
        os.replace(path, path[: -len(".jsonl")] + ".prev.jsonl")
    with open(path, "w") as f:
        for rec in records:
            f.write(json.dumps(rec, default=A.C._json_default) + "\n")
    print(f"\nwrote {len(records)} records to {path}")


def mem_available_gb() -> float | None:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return None


# ---- workloads --------------------------------------------------------------------------------


def run_w1(a, peers: str, py: str, run_id: str, data: dict) -> None:
    datasets = a.datasets.split(",")
    log(f"W1: admf in process ({a.reps} reps) ...")
    records = admf_w1(datasets, a.reps, run_id, peers)
    wanted = [e for e, skip in (("vectorbt", a.skip_vectorbt), ("backtesting.py", a.skip_backtesting)) if not skip]
    for engine in available_peers(py, wanted):
        hint = " (~60 s on synth_100k)" if engine == "backtesting.py" else ""
        log(f"W1: {engine} with {py}{hint} ...")
        for rec in run_peer(engine, py, peers, ["--workloads", "W1", "--w1-datasets", a.datasets, *_PEERS[engine][2]],
                            run_id):
            if rec.get("workload") == "W1":
                records.append(rec)
    summary = summarize(records)
    print(f"\n## W1: 90-combo SMA grid (run {run_id}; admf best of {a.reps}, peers 1 run each)\n")
    print_table(summary, datasets)
    print("\nPer-combo final-equity cross-check (|Δ| ≤ 1e-4):")
    mismatches = cross_check(records)
    if not any(r["engine"] != "admf" for r in records):
        print("- no peer ran: nothing to compare")
    print(f"\nTargets (median wall time, {TARGET_DATASET}):")
    print_w1_targets(summary)
    print(f"- every combo's final equity equals the peers': {verdict(mismatches == 0)}")
    write_jsonl(a.out, [meta(run_id, data)] + records)


def run_w2(a, peers: str, py: str, run_id: str, data: dict) -> None:
    ds = "synth_1m"
    env = dict(os.environ, BENCH_RUN_ID=run_id, BENCH_REP="1")
    log(f"W2: admf in its own process on {ds} ...")
    cmd = [sys.executable, os.path.join(B.BENCH_DIR, "bench_admf.py"), "--workloads", "W2",
           "--w2-dataset", ds, "--peers-dir", peers]
    records, rss = [], {}
    recs, peak, how = run_measured(cmd, env)
    for rec in recs:
        if peak is not None:
            rec["peak_rss_mb_time_v" if how.startswith("/usr/bin/time") else "peak_rss_mb_measured"] = round(peak, 1)
            rss[(ds, "admf")] = peak
        records.append(rec)
    if not a.skip_vectorbt_w2 and available_peers(py, ["vectorbt"]):
        free = mem_available_gb()
        if free is not None and free < 13:
            print(f"note: vectorbt W2 skipped: it needs ~11 GB, {free:.1f} GB available")
        else:
            log(f"W2: vectorbt in its own process on {ds} (~11 GB, ~60 s) ...")
            recs, peak, how2 = run_peer("vectorbt", py, peers, ["--workloads", "W2", "--w2-dataset", ds], run_id,
                                        measured=True)
            for rec in recs:
                if peak is not None:
                    rec["peak_rss_mb_time_v" if how2.startswith("/usr/bin/time") else "peak_rss_mb_measured"] = round(peak, 1)
                    rss[(ds, "vectorbt")] = peak
                records.append(rec)
    summary = summarize(records)
    print(f"\n## W2: 1,000,000 bars × 90 combos (run {run_id}; one run per engine, each in its own process)\n")
    print_table(summary, [ds], rss)
    print(f"\npeak RSS: {how or 'not measured'} (whole process: interpreter, imports incl. the harness's pandas, "
          "data, warm-up, the run)")
    if records and records[0]["engine"] == "admf":
        r = records[0]
        print(f"admf RSS MB: after admf imports {r.get('rss_mb_after_admf_imports')}, after harness imports "
              f"{r.get('rss_mb_after_imports')}, before the run (data loaded) {r.get('rss_mb_before_workload')}")
    print("\nPer-combo final-equity cross-check (|Δ| ≤ 1e-4):")
    mismatches = cross_check(records)
    print("\nTargets:")
    peak = rss.get((ds, "admf"))
    print(f"- admf peak RSS ≤ {TARGET_RSS_MB:.0f} MB on {ds}: "
          + (f"{peak:,.0f} MB → {verdict(peak <= TARGET_RSS_MB)}" if peak else "not measured"))
    if any(r["engine"] != "admf" for r in records):
        print(f"- every combo's final equity equals vectorbt's: {verdict(mismatches == 0)}")
    write_jsonl(a.out_w2, [meta(run_id, data)] + records)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--datasets", default=f"GOOG,{TARGET_DATASET}", help="W1 data sets")
    p.add_argument("--reps", type=int, default=3, help="timed admf repetitions per data set")
    p.add_argument("--peers-dir", default=None, help="peer harness (default $ADMF_PEERS_DIR or <repo>/../shared/peers-bench)")
    p.add_argument("--peers-python", default=None, help="interpreter with vectorbt / backtesting installed")
    p.add_argument("--skip-vectorbt", action="store_true")
    p.add_argument("--skip-backtesting", action="store_true", help="skip backtesting.py (~60 s on synth_100k)")
    p.add_argument("--skip-w1", action="store_true", help="with --w2: run W2 only")
    p.add_argument("--w2", action="store_true", help="also run W2 (1,000,000 bars; peak RSS per process)")
    p.add_argument("--skip-vectorbt-w2", action="store_true", help="W2 without vectorbt (~11 GB, ~60 s)")
    p.add_argument("--out", default=os.path.join(B.BENCH_DIR, "results-w1.jsonl"))
    p.add_argument("--out-w2", default=os.path.join(B.BENCH_DIR, "results-w2.jsonl"))
    a = p.parse_args(argv)
    peers = B.peers_dir(a.peers_dir)
    A.setup(peers)
    py = peers_python(a.peers_python)
    run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    needed = [d for d in a.datasets.split(",") if d in B.SYNTHETIC and not a.skip_w1] + (["synth_1m"] if a.w2 else [])
    data = {name: B.ensure_synthetic(name, peers) for name in needed}
    for name, d in data.items():
        log(f"data {name}: sha256 {d['sha256'][:12]}… {'OK' if d['ok'] else 'MISMATCH (expected ' + d['expected_prefix'] + ')'}")
    if not a.skip_w1:
        run_w1(a, peers, py, run_id, data)
    if a.w2:
        run_w2(a, peers, py, run_id, data)


if __name__ == "__main__":
    main()
