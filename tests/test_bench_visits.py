"""asv_bench/peers.py's node-visit count (the side-by-side script's visits-per-core table)
agrees with scikit-learn's own decision paths, binned or not."""

import pathlib
import sys

import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_wine
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier

import mle_runtime as mle
import mle_runtime.ir.trees as ir_trees

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "asv_bench"))
import peers  # noqa: E402


def test_visits_are_the_internal_nodes_on_each_decision_path(tmp_path):
    X, y = load_wine(return_X_y=True)
    rf = RandomForestClassifier(n_estimators=7, max_depth=6, random_state=0).fit(X, y)
    mle.dump(rf, tmp_path / "rf.mle")
    paths = rf.decision_path(X)[0]
    expected = (paths.sum(axis=1).A1 - len(rf.estimators_)).mean()  # nodes on path - leaves
    assert peers.node_visits_per_row(tmp_path / "rf.mle", X) == pytest.approx(expected)


def test_binned_and_plain_files_count_the_same_visits(tmp_path, monkeypatch):
    X, y = load_diabetes(return_X_y=True)
    X = X.copy()
    X[::7, 2] = np.nan
    hgb = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    mle.dump(hgb, tmp_path / "binned.mle")
    monkeypatch.setattr(ir_trees, "binned", lambda graph, nodes, **kw: (nodes, kw["wide"], {}))
    mle.dump(hgb, tmp_path / "plain.mle")
    a = peers.node_visits_per_row(tmp_path / "binned.mle", X)
    b = peers.node_visits_per_row(tmp_path / "plain.mle", X)
    assert a == b and a > 20
