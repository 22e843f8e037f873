"""backtesting.py configured with the peers-bench W0 semantics (used by the cross-check tests)."""
import os

os.environ.setdefault("TQDM_DISABLE", "1")

GOOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pipelines", "datasets", "GOOG.csv")


def run_backtesting(variant: str, fast: int = 10, slow: int = 20) -> dict:
    """backtesting.py's trades, final equity, max drawdown and equity curve for one W0 variant."""
    import pandas as pd
    from backtesting import Backtest, Strategy
    from backtesting.lib import crossover

    def sma(values, n):
        return pd.Series(values).rolling(n).mean()

    class Cross(Strategy):
        def init(self):
            self.fast = self.I(sma, self.data.Close, fast)
            self.slow = self.I(sma, self.data.Close, slow)

        def next(self):
            if crossover(self.fast, self.slow):
                if variant == "long_short":
                    self.position.close()
                    self.buy()
                elif not self.position:
                    self.buy()
            elif crossover(self.slow, self.fast):
                self.position.close()
                if variant == "long_short":
                    self.sell()

    df = pd.read_csv(GOOG, index_col=0, parse_dates=True)[["Open", "High", "Low", "Close", "Volume"]].astype(float)
    stats = Backtest(df, Cross, cash=10_000, commission=0.002, trade_on_close=False, exclusive_orders=False,
                     hedging=False, margin=1.0, finalize_trades=False).run()
    trades = stats["_trades"]
    return {
        "final_equity": float(stats["Equity Final [$]"]),
        "max_drawdown_pct": -float(stats["Max. Drawdown [%]"]),
        "n_trades": int(stats["# Trades"]),
        "open_position": float(stats["_strategy"].position.size),
        "trades": [
            {"entry_time": str(r.EntryTime.date()), "entry_price": float(r.EntryPrice),
             "exit_time": str(r.ExitTime.date()), "exit_price": float(r.ExitPrice),
             "size": float(r.Size), "pnl": float(r.PnL)}
            for r in trades.itertuples()
        ],
        "equity": [float(x) for x in stats["_equity_curve"]["Equity"].to_numpy()],
        "stats": _stats(stats),
    }


def _stats(stats) -> dict:
    """backtesting.py's statistics that admf's research statistics are compared with (plain data)."""
    from backtesting._util import _indicator_warmup_nbars
    days = lambda delta: delta.total_seconds() / 86400.0
    trades = stats["_trades"]
    return {
        "start": str(stats["Start"].date()), "end": str(stats["End"].date()),
        "cagr_pct": float(stats["CAGR [%]"]), "max_drawdown_pct": -float(stats["Max. Drawdown [%]"]),
        "buy_hold_return_pct": float(stats["Buy & Hold Return [%]"]),
        "buy_hold_first_bar": int(_indicator_warmup_nbars(stats["_strategy"])),
        "volatility_ann_pct": float(stats["Volatility (Ann.) [%]"]), "calmar": float(stats["Calmar Ratio"]),
        "avg_drawdown_pct": -float(stats["Avg. Drawdown [%]"]),
        "max_drawdown_days": days(stats["Max. Drawdown Duration"]),
        "best_trade_pct": float(stats["Best Trade [%]"]), "worst_trade_pct": float(stats["Worst Trade [%]"]),
        "avg_trade_pct": float(stats["Avg. Trade [%]"]), "avg_trade_days": days(trades["Duration"].mean()),
        "expectancy_pct": float(stats["Expectancy [%]"]), "mean_pnl": float(trades["PnL"].mean()),
        "sqn": float(stats["SQN"]), "kelly": float(stats["Kelly Criterion"]),
    }
