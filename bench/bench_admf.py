#!/usr/bin/env python3
"""admf as one more engine of the peer benchmark harness: W0 correctness, W1 grid, W2 scale.

Emits the harness's JSON records (schema: ``<peers>/README.md``; one line per result on stdout,
also appended to ``--out``) with ``engine: "admf"``. Run it with admf's interpreter::

    /work/venv/bin/python bench/bench_admf.py --workloads W0,W1 --w1-datasets GOOG,synth_100k
    /usr/bin/time -v /work/venv/bin/python bench/bench_admf.py --workloads W2   # own process: clean peak RSS

Data is read by admf's own loader (``pipelines.load_market_data``: bundled GOOG, or
``bench/data/synth_*.csv``, generated when missing); loading is not timed, like the peers' CSV ->
pandas load. The timed region of W1/W2 is ``pipelines.run(spec, market=...)`` + ``best()``:
plan, features, signals, the fold of every combo, all metrics of every combo, best selection.
admf itself imports no pandas; the harness's ``common`` (imported here for the shared constants
and formulas) does, so this process has pandas loaded.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as B  # noqa: E402

sys.path.insert(0, B.REPO)
import pipelines  # noqa: E402
from state.market import MarketData  # noqa: E402
from state.spec import DataSpec  # noqa: E402

_RSS_MB_ADMF_IMPORTS = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # before pandas (common)

ENGINE = "admf"
C = None  # the harness's `common` module, set by setup()


def setup(peers: str | None = None):
    """Locate the peer harness and import its ``common`` (GRID, CASH, COMMISSION, formulas, emit)."""
    global C
    if C is None:
        C = B.import_common(B.peers_dir(peers))
    return C


# ---- specs and data ---------------------------------------------------------------------------


def _range(values: range) -> dict:
    return {"from": values.start, "to": values[-1], "step": values.step}


def spec(direction: str = "long_only", fast=None, slow=None) -> dict:
    """The harness workload as an admf spec: the W1 grid, or one (fast, slow) point for W0."""
    fast_axis = _range(C.FAST_RANGE) if fast is None else fast
    slow_axis = _range(C.SLOW_RANGE) if slow is None else slow
    entry = {"type": "sma_crossover", "parameters": {"fast_period": fast_axis, "slow_period": slow_axis}}
    if fast is None:
        entry["constraints"] = ["fast_period < slow_period"]
    return {
        "workflow": {"type": "backtest"},  # a grid run + best pick, as the peers time it (no PBO / DSR)
        "portfolio": {"initial_cash": C.CASH, "direction": direction},
        "execution": {"fill": "next_open", "commission": C.COMMISSION},
        "strategies": [entry],
        "objective": "final_equity",
    }


def load_market(dataset: str, peers: str | None = None) -> MarketData:
    """A data set through admf's loader: bundled ``GOOG``, or ``bench/data/<synth>.csv`` (generated if missing)."""
    if dataset in B.SYNTHETIC:
        path = B.ensure_synthetic(dataset, B.peers_dir(peers))["path"]
        return pipelines.load_market_data(DataSpec(path=path, symbol=dataset))
    return pipelines.load_market_data(DataSpec(dataset=dataset))


def head(market: MarketData, n: int) -> MarketData:
    """The first ``n`` bars of a one-symbol market (for the warm-up)."""
    bars = market.bars[0].slice(0, n)
    return MarketData(bars=(bars,), source=f"{market.source}[:{n}]", sha256="", periods_per_year=market.periods_per_year)


# ---- W0 ---------------------------------------------------------------------------------------


def equity_curves(result) -> list:
    """Each combination's (equity, position) at every close, for a one-symbol run.

    ``RunResult`` exposes no equity curves, so this re-folds the run's plan with admf's public
    building blocks (the same steps as ``pipelines.engine.evaluate.run_plan``); the caller checks that the
    curves end at the results table's final equity.
    """
    from fp.hub import compute_features
    from fp.registry import lookup
    from fp.strategies import signal_changes
    from pipelines.engine.lanes import lane_settings
    from pipelines.engine.signals import signal_of

    plan, bars = result.plan, result.market.bars[0]
    settings = lane_settings(plan.combos)
    features = compute_features(bars, plan.features)
    changes = [signal_changes(signal_of(c.strategy, dict(c.strategy_params), features),
                              lookup("strategy", c.strategy).trigger) for c in plan.combos]
    folded = pipelines.fold_sparse(pipelines.container_for(pipelines.PATTERNS[plan.pattern]), settings, changes, bars)
    return [folded.equity(i, bars.close, float(settings.initial_cash[i])) for i in range(len(plan.combos))]


def w0(market: MarketData, dataset: str = "GOOG") -> list[dict]:
    """SMA 10/20 long_only and long_short on ``market``: the peers' W0 fields."""
    out = []
    close = market.bars[0].close
    for variant in ("long_only", "long_short"):
        t0 = C.now()
        result = pipelines.run(spec(variant, C.W0_FAST, C.W0_SLOW), market=market)
        row = result.best()
        wall = C.now() - t0
        trades = result.trades.to_pylist()
        open_size = sum(t["size"] for t in trades if t["exit_time"] is None)
        first = [C.trade_row(t["entry_time"], t["entry_price"], t["exit_time"], t["exit_price"], t["size"])
                 for t in trades[:5]]
        rec = {
            "engine": ENGINE, "workload": "W0", "variant": variant, "dataset": dataset, "bars": len(close),
            "aligned": True, "fast": C.W0_FAST, "slow": C.W0_SLOW,
            "final_equity": round(row["final_equity"], 4),
            "total_return_pct": round(row["total_return_pct"], 4),
            "n_trades_closed": int(row["n_trades"]),
            "open_position_at_end": float(open_size),
            "max_dd_pct": round(row["max_drawdown_pct"], 4),
            "total_commission": round(row["commission"], 4),
            "first_trades": first,
            "sma_ties": C.count_sma_ties(close, C.W0_FAST, C.W0_SLOW),
            "wall_s": round(wall, 4),
        }
        try:
            equity, position = equity_curves(result)[0]
            if abs(equity[-1] - row["final_equity"]) > 1e-6 or float(position[-1]) != open_size:
                raise ValueError(f"re-folded curve ends at {equity[-1]} / position {position[-1]}")
            rec["max_dd_pct_equity"] = round(C.max_drawdown_pct(equity), 4)
            rec["note"] = ("max_dd_pct_equity: harness formula on admf's equity curve, re-folded outside the "
                           "timed region (RunResult has no equity curves)")
        except Exception as exc:  # noqa: BLE001 - report, do not fail the benchmark
            rec["max_dd_pct_equity"] = rec["max_dd_pct"]
            rec["note"] = f"max_dd_pct_equity = max_dd_pct: equity curve not available ({exc})"
        out.append(rec)
    return out


# ---- W1 / W2 ----------------------------------------------------------------------------------


def grid_run(market: MarketData) -> tuple[dict, float, float]:
    """The timed optimisation (spec -> results -> best) over the 90-combo grid.

    Returns ``(best, wall_s, run_s)``: the harness's ``best`` record (with every combo's final
    equity), the timed seconds, and the part of them spent in ``pipelines.run`` (its manifest).
    """
    t0 = C.now()
    result = pipelines.run(spec(), market=market)
    row = result.best()
    wall = C.now() - t0
    table = result.results
    by_combo = {C.combo_key(f, s): round(v, 4) for f, s, v in zip(
        table.column("fast_period").to_pylist(), table.column("slow_period").to_pylist(),
        table.column("final_equity").to_pylist())}
    assert len(by_combo) == len(C.GRID), (len(by_combo), len(C.GRID))
    best = {"fast": int(row["fast_period"]), "slow": int(row["slow_period"]),
            "final_equity": round(row["final_equity"], 4), "final_equity_by_combo": by_combo}
    return best, wall, result.manifest["run_seconds"]


def warmup(goog: MarketData) -> float:
    """One untimed grid run and W0 on the first 300 GOOG bars (imports, first-call costs); seconds."""
    t0 = C.now()
    small = head(goog, 300)
    grid_run(small)
    w0(small, "GOOG[:300]")
    return C.now() - t0


def w1(market: MarketData, dataset: str, warm: float, workload: str = "W1") -> dict:
    """One W1/W2 record: the full grid on ``market``."""
    best, wall, run_s = grid_run(market)
    return C.w1_record(ENGINE, dataset, len(market.bars[0]), len(C.GRID), wall, 1, 1, best, "serial",
                       extra={"workload": workload, "warmup_s": round(warm, 3),
                              "phases": {"pipelines_run_s": round(run_s, 4),
                                         "best_s": round(wall - run_s, 4)},
                              "note": "timed: pipelines.run(spec, market) + best(); includes every metric "
                                      "(equity, drawdown, Sharpe, trades, ...) of every combo"})


def env() -> dict:
    info = C.env_info()
    import importlib.metadata as md
    for pkg in ("pyarrow", "attrs", "toolz"):
        try:
            info["versions"][pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workloads", default="W0,W1", help="comma list of W0,W1,W2")
    p.add_argument("--w1-datasets", default="GOOG,synth_100k")
    p.add_argument("--w2-dataset", default="synth_1m")
    p.add_argument("--peers-dir", default=None, help="peer harness folder (default: $ADMF_PEERS_DIR or "
                                                     "<repo>/../shared/peers-bench)")
    p.add_argument("--out", default=None, help="also append JSON lines to this file")
    a = p.parse_args(argv)
    setup(a.peers_dir)
    rss_imports = C.maxrss_mb()
    workloads = a.workloads.split(",")
    info = env()
    goog = load_market("GOOG", a.peers_dir)
    warm = warmup(goog)
    if "W0" in workloads:
        for rec in w0(goog):
            rec.update(env=info, warmup_s=round(warm, 3))
            C.emit(rec, a.out)
    if "W1" in workloads:
        for ds in a.w1_datasets.split(","):
            rec = w1(load_market(ds, a.peers_dir), ds, warm)
            rec["env"] = info
            C.emit(rec, a.out)
    if "W2" in workloads:
        market = load_market(a.w2_dataset, a.peers_dir)
        rss_before = C.maxrss_mb()
        rec = w1(market, a.w2_dataset, warm, workload="W2")
        rec.update(env=info,
                   peak_rss_mb_self=round(C.maxrss_mb(), 1),      # whole process, incl. imports + data
                   rss_mb_before_workload=round(rss_before, 1),    # after imports, warm-up, CSV load
                   rss_mb_after_imports=round(rss_imports, 1),     # admf + harness common (pandas)
                   rss_mb_after_admf_imports=round(_RSS_MB_ADMF_IMPORTS, 1))
        C.emit(rec, a.out)


if __name__ == "__main__":
    main()
