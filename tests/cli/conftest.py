"""Shared fixtures of the console-script tests."""

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier


@pytest.fixture(scope="session")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    X, y = load_iris(return_X_y=True)
    model = RandomForestClassifier(n_estimators=15, random_state=0).fit(X, y)
    joblib.dump(model, d / "model.joblib")
    joblib.dump(model, d / "model3.joblib", compress=3)
    np.save(d / "X.npy", X)
    np.savetxt(d / "X.csv", X, delimiter=",", header="a,b,c,d", comments="")
    return d, model, X

