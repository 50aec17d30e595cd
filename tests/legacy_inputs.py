"""Inputs the legacy golden files (legacy_golden.py) were run on; built without randomness
beyond a fixed seed, so the same rows come back every time."""

import numpy as np


def _iris_rows():
    # Eight rows spanning the three iris classes (values from the data set).
    return np.array([[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2], [7.0, 3.2, 4.7, 1.4],
                     [6.4, 3.2, 4.5, 1.5], [6.3, 3.3, 6.0, 2.5], [5.8, 2.7, 5.1, 1.9],
                     [5.9, 3.0, 5.1, 1.8], [5.5, 2.4, 3.8, 1.1]])


def _iris_frame(category=False):
    import pandas as pd

    X = pd.DataFrame(_iris_rows(), columns=["sl", "sw", "pl", "pw"])
    if category:
        X["c"] = pd.Categorical(["a", "b", "c", "a", "b", "c", "a", None],
                                categories=["a", "b", "c"])
    return X


INPUTS = {
    "logreg_str": _iris_frame,
    "imputer_int": lambda: np.array([[1, 2], [3, 4]], dtype=np.int64),
    "tree_multi": _iris_rows,
    "lgbm_cat": lambda: _iris_frame(category=True),
    "xgb_cat": lambda: _iris_frame(category=True),
    "cat_multi": _iris_rows,
}
INPUTS["logreg_str_envelope"] = INPUTS["logreg_str_value"] = INPUTS["logreg_str"]
