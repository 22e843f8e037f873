"""Tests for pipelines.boundary.outputs: what a run folder's files hold, byte for byte."""
import numpy as np
import pyarrow as pa

from pipelines.boundary.outputs import write_dir


def test_the_bytes_written_do_not_depend_on_how_a_table_is_chunked(tmp_path):
    """A chunked run merges its parts into tables of many chunks: they must write the unchunked
    run's bytes. Parquet falls back from dictionary to plain encoding once the dictionary outgrows a
    page, checking where chunks end: unique doubles cut just before that point wrote other bytes."""
    table = pa.table({"pnl": np.arange(200_000) * 0.37, "bar": np.arange(200_000)})
    write_dir(tmp_path / "whole", {"t.parquet": table}, {})
    for cut in (130_000, 131_072, 150_000):
        parts = pa.concat_tables([table.slice(0, cut), table.slice(cut)])
        write_dir(tmp_path / f"cut-{cut}", {"t.parquet": parts}, {})
        assert (tmp_path / "whole" / "t.parquet").read_bytes() == (tmp_path / f"cut-{cut}" / "t.parquet").read_bytes()
