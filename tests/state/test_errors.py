"""Errors cross process boundaries whole: a worker's refusal reaches the user as it was raised."""
import pickle

import pytest

from state.errors import (
    AdmfError,
    ArgumentError,
    ComponentError,
    DataError,
    MissingExtraError,
    PatternError,
    SpecError,
    StoreError,
    UnknownComponentError,
)


@pytest.mark.parametrize("error", [
    SpecError("classifiers[0]", "labels no bar: give it more data"), SpecError("", "no path"),
    DataError("prices.csv", "close is not a number", line=7), DataError("prices.csv", "empty"),
    MissingExtraError("the dask executor", "scale", "dask[distributed]"),
    AdmfError("plain"), ArgumentError("n_blocks"), ComponentError("bad"), PatternError("cycle"), StoreError("gone"),
    UnknownComponentError("no strategy 'x'"),
], ids=lambda e: type(e).__name__)
def test_every_error_kind_survives_pickling(error):
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)
    assert {k: v for k, v in vars(back).items()} == {k: v for k, v in vars(error).items()}
