"""Paths and data shared by the admf benchmark scripts (``bench_admf.py``, ``w1.py``).

* the repository is this file's parent folder; generated data goes to ``<repo>/bench/data/``
  (gitignored), never into the read-only peer harness;
* the peer harness (``common.py``, ``make_synthetic.py``, ``bench_*.py``) is found at
  ``--peers-dir``, else ``$ADMF_PEERS_DIR``, else ``<repo>/../shared/peers-bench``;
* the synthetic series are generated with the harness's ``make_synthetic.py`` exactly as
  ``run_all.sh`` does (``--bars N --seed 42``) and checked against the published sha256 prefixes;
* ``admf_run`` times what a user runs (``admf run SPEC`` in a fresh process, spec file to files on
  disk) with its peak RSS; ``dask_cluster`` starts a ``dask scheduler`` and workers as subprocesses.

Imports only the standard library, so it works under both the admf and the peers' interpreter.
"""
from __future__ import annotations

import hashlib
import importlib
import os
import subprocess
import sys

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
DATA_DIR = os.path.join(BENCH_DIR, "data")

#: name -> (bars, sha256 prefix published by the peer harness; numpy 2.4.6, seed 42)
SYNTHETIC = {
    "synth_100k": (100_000, "626d5123"),
    "synth_1m": (1_000_000, "e3bc3779"),
}


def peers_dir(given: str | None = None) -> str:
    """The peer harness folder: ``given``, else ``$ADMF_PEERS_DIR``, else ``shared/peers-bench`` beside
    the repository or beside its parent (a git worktree in ``<work>/wt/<name>``)."""
    beside = [os.path.join(REPO, *[".."] * up, "shared", "peers-bench") for up in (1, 2)]
    path = given or os.environ.get("ADMF_PEERS_DIR") or next(
        (p for p in beside if os.path.isfile(os.path.join(p, "common.py"))), beside[0])
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, "common.py")):
        raise SystemExit(f"peer harness not found: {path}/common.py is missing "
                         "(pass --peers-dir or set ADMF_PEERS_DIR)")
    return path


def import_common(peers: str):
    """Import the harness's ``common`` module, with its synthetic data redirected to ``bench/data``."""
    if peers not in sys.path:
        sys.path.insert(0, peers)
    common = importlib.import_module("common")
    common.DATA_DIR = DATA_DIR  # DATASETS' lambdas read this global when called
    return common


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def synthetic_path(name: str) -> str:
    return os.path.join(DATA_DIR, f"{name}.csv")


def ensure_synthetic(name: str, peers: str, python: str | None = None, log=None) -> dict:
    """Generate ``bench/data/<name>.csv`` with the harness's generator when missing; check its sha256.

    Returns ``{"path", "sha256", "expected_prefix", "ok", "generated"}``. A mismatch (another numpy
    version can change the stream) is reported, not raised: every engine reads the same file, so
    the cross-check stays valid, only the comparison with published numbers does not.
    """
    log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    bars, prefix = SYNTHETIC[name]
    path = synthetic_path(name)
    generated = False
    if not os.path.exists(path):
        os.makedirs(DATA_DIR, exist_ok=True)
        log(f"generating {path} ({bars:,} bars, seed 42) with {peers}/make_synthetic.py ...")
        tmp = path + ".tmp"
        subprocess.run([python or sys.executable, os.path.join(peers, "make_synthetic.py"),
                        "--bars", str(bars), "--seed", "42", "--out", tmp], check=True)
        os.replace(tmp, path)
        generated = True
    digest = sha256(path)
    ok = digest.startswith(prefix)
    if not ok:
        log(f"WARNING: {path} sha256 {digest[:12]}… does not start with {prefix} (numpy version?); "
            "all engines still read this same file")
    return {"path": path, "sha256": digest, "expected_prefix": prefix, "ok": ok, "generated": generated}


# ---- what a user runs --------------------------------------------------------------------------


def admf_command(*args: str) -> list[str]:
    """``admf ARGS`` with this interpreter and this repository's admf (whatever is installed)."""
    return [sys.executable, "-m", "pipelines.cli.main", *args]


def admf_env() -> dict:
    """The environment ``admf`` runs in: this checkout first on the path."""
    env = dict(os.environ, PYTHONPATH=REPO, PYTHONHASHSEED="0")
    env.pop("ADMF_PEERS_DIR", None)
    return env


def admf_run(spec: str, out: str, *extra: str, cwd: str | None = None) -> tuple[float, float | None, str]:
    """Run ``admf run SPEC --out OUT EXTRA`` in a fresh process: (wall seconds, peak RSS MB, stdout).

    The wall time covers the whole command (interpreter start, imports, loading, the run, writing
    the run folder); the peak RSS is ``/usr/bin/time -v``'s (None without it). Raises with the
    command's stderr when it fails.
    """
    import re
    import tempfile
    import time
    command = admf_command("run", spec, "--out", out, *extra)
    timer = os.access("/usr/bin/time", os.X_OK)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tv:
        wrapped = ["/usr/bin/time", "-v", "-o", tv.name, *command] if timer else command
        t0 = time.perf_counter()
        done = subprocess.run(wrapped, cwd=cwd, env=admf_env(), capture_output=True, text=True)
        wall = time.perf_counter() - t0
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", tv.read()) if timer else None
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return wall, (int(found.group(1)) / 1024 if found else None), done.stdout


class dask_cluster:
    """``with dask_cluster(workers) as address:`` a ``dask scheduler`` and ``workers`` single-threaded
    ``dask worker`` processes on localhost (subprocesses, admf on their path), stopped on exit."""

    def __init__(self, workers: int, log_dir: str):
        self.workers, self.log_dir, self.started = workers, log_dir, []

    def __enter__(self) -> str:
        import signal
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        address = f"tcp://127.0.0.1:{port}"
        os.makedirs(self.log_dir, exist_ok=True)
        self._signal = signal
        commands = [["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]] + [
            ["worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard",
             "--memory-limit", "0"] for _ in range(self.workers)]
        try:
            for i, args in enumerate(commands):
                log = open(os.path.join(self.log_dir, f"{args[0]}-{i}.log"), "w")
                self.started.append(subprocess.Popen([sys.executable, "-m", "dask", *args], env=admf_env(),
                                                     cwd=self.log_dir, stdout=log, stderr=subprocess.STDOUT,
                                                     start_new_session=True))
            wait = ("from distributed import Client; import sys; "
                    "c = Client(sys.argv[1], timeout='60s'); c.wait_for_workers(int(sys.argv[2]), timeout=120); c.close()")
            subprocess.run([sys.executable, "-c", wait, address, str(self.workers)], env=admf_env(), check=True)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return address

    def __exit__(self, *exc) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                os.killpg(process.pid, self._signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, self._signal.SIGKILL)
                    process.wait()
        self.started = []


W3_GRID = {"type": "sma_crossover", "constraints": ["fast_period < slow_period"],
           "parameters": {"fast_period": {"from": 5, "to": 50, "step": 1},
                          "slow_period": {"from": 20, "to": 200, "step": 20}}}
W1_GRID = {"type": "sma_crossover", "constraints": ["fast_period < slow_period"],
           "parameters": {"fast_period": {"from": 5, "to": 50, "step": 5},
                          "slow_period": {"from": 20, "to": 200, "step": 20}}}


def spec_text(name: str, grid: dict, workflow: str = "backtest") -> str:
    """A spec file's text: ``grid`` on the synthetic series ``name``, the harness's semantics
    (10,000 cash, long only, all in, whole shares, next-open fills, 0.2 % commission)."""
    import json
    return (f"workflow: {{type: {workflow}}}\n"
            f"data: {{path: {synthetic_path(name)}, symbol: {name}}}\n"
            "portfolio: {initial_cash: 10000, direction: long_only}\n"
            "execution: {fill: next_open, commission: 0.002}\n"
            f"strategies:\n  - {json.dumps(grid)}\n"
            "objective: final_equity\n")


def timed(command: list[str], env: dict | None = None) -> dict:
    """Run ``command`` under ``/usr/bin/time -v``: ``{"wall_s", "cpu_s", "peak_rss_mb", "returncode",
    "stdout", "stderr"}`` (the whole process: interpreter start, imports, data, the run, writing)."""
    import re
    import tempfile
    import time
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        start = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-v", "-o", report.name, *command], env=env, capture_output=True,
                              text=True)
        wall = time.perf_counter() - start
        text = report.read()
    find = lambda pattern: float(m.group(1)) if (m := re.search(pattern, text)) else float("nan")
    return {"wall_s": wall, "cpu_s": find(r"User time \(seconds\): ([\d.]+)") + find(r"System time \(seconds\): ([\d.]+)"),
            "peak_rss_mb": find(r"Maximum resident set size \(kbytes\): (\d+)") / 1024, "returncode": done.returncode,
            "stdout": done.stdout, "stderr": done.stderr}


def admf_runs(spec: str, out: str, reps: int, *extra: str) -> tuple[dict, dict]:
    """``reps`` runs of ``admf run SPEC --out OUT EXTRA``, each in a fresh process under
    ``/usr/bin/time -v`` (see :func:`timed`): the medians of wall, CPU and peak RSS, every run's
    wall and RSS and the command; and the last run's manifest. Raises with stderr on a failure."""
    import json
    import shutil
    command = [*admf_command(), "run", spec, "--out", out, *extra]
    runs = []
    for _ in range(reps):
        shutil.rmtree(out, ignore_errors=True)
        r = timed(command, admf_env())
        if r["returncode"]:
            raise SystemExit(f"failed: {' '.join(command)}\n{r['stderr'][-3000:]}")
        runs.append(r)
    with open(os.path.join(out, "manifest.json")) as f:
        manifest = json.load(f)
    figures = {"command": "admf " + " ".join(command[3:]), "wall_s": median([r["wall_s"] for r in runs]),
               "cpu_s": median([r["cpu_s"] for r in runs]), "peak_rss_mb": median([r["peak_rss_mb"] for r in runs]),
               "walls": [round(r["wall_s"], 2) for r in runs], "rss": [round(r["peak_rss_mb"]) for r in runs]}
    return figures, manifest


def best_and_median(reps: int, fn, *, warm_up: bool = False) -> tuple[float, float, object]:
    """``reps`` timed calls of ``fn()`` in this process (after one untimed call with ``warm_up``):
    the best and the median wall seconds, and the last call's result."""
    import statistics
    import time
    if warm_up:
        fn()
    times, out = [], None
    for _ in range(reps):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times), out


def interpreter_baseline_mb(env: dict | None = None) -> dict:
    """Peak RSS of a process that only imports admf (``bare``) and that also makes pyarrow build
    an array from a list (``with_pandas``: pyarrow then imports pandas, as every admf run does)."""
    bare = timed([sys.executable, "-c", "import pipelines.cli.main"], env)["peak_rss_mb"]
    shim = timed([sys.executable, "-c", "import pipelines.cli.main, pyarrow as pa; pa.array([1])"], env)["peak_rss_mb"]
    return {"bare": bare, "with_pandas": shim}


def median(values):
    import statistics
    return statistics.median(values)
