"""Paths and data shared by the admf benchmark scripts (``bench_admf.py``, ``w1.py``).

* the repository is this file's parent folder; generated data goes to ``<repo>/bench/data/``
  (gitignored), never into the read-only peer harness;
* the peer harness (``common.py``, ``make_synthetic.py``, ``bench_*.py``) is found at
  ``--peers-dir``, else ``$ADMF_PEERS_DIR``, else ``<repo>/../shared/peers-bench``;
* the synthetic series are generated with the harness's ``make_synthetic.py`` exactly as
  ``run_all.sh`` does (``--bars N --seed 42``) and checked against the published sha256 prefixes.

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
    """The peer harness folder: ``given``, else ``$ADMF_PEERS_DIR``, else ``<repo>/../shared/peers-bench``."""
    path = given or os.environ.get("ADMF_PEERS_DIR") or os.path.join(REPO, "..", "shared", "peers-bench")
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
