"""Parity of scikit-learn's generalised linear models (PoissonRegressor, GammaRegressor,
TweedieRegressor with each link) and RANSACRegressor with their .mle proxies: ``predict``
within 1e-9 relative (``assert_parity``'s absolute 1e-9 on targets of order 1-100), on the
whole dataset, single rows, float32, int, list, Fortran-ordered and strided input."""

import numpy as np
import pytest
from sklearn.linear_model import (
    GammaRegressor,
    LinearRegression,
    PoissonRegressor,
    RANSACRegressor,
    Ridge,
    TweedieRegressor,
)
from sklearn.tree import DecisionTreeRegressor

import mle_runtime as mle

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

MODELS = {
    "PoissonRegressor": lambda: PoissonRegressor(),
    "PoissonRegressor(alpha=0.1,no-intercept)": lambda: PoissonRegressor(alpha=0.1,
                                                                         fit_intercept=False),
    "GammaRegressor": lambda: GammaRegressor(),
    "TweedieRegressor(power=0)": lambda: TweedieRegressor(power=0),
    "TweedieRegressor(power=1.5)": lambda: TweedieRegressor(power=1.5),
    "TweedieRegressor(power=1.5,identity)": lambda: TweedieRegressor(power=1.5, link="identity"),
    "TweedieRegressor(power=0,log)": lambda: TweedieRegressor(power=0, link="log"),
    "TweedieRegressor(power=3)": lambda: TweedieRegressor(power=3),
}


@pytest.mark.parametrize("data", ["diabetes", "regression"])
@pytest.mark.parametrize("name", list(MODELS))
def test_glm(name, data, dataset, roundtrip, assert_parity):
    X, y = dataset(data, scaled=True)
    y = np.exp((y - y.mean()) / y.std())  # positive targets of order 1
    model = MODELS[name]().fit(X, y)
    proxy = roundtrip(model)
    assert assert_parity(model, proxy, X) == ["predict"]
    np.testing.assert_array_equal(proxy.coef_, model.coef_)


def test_glm_refuses_nan(dataset, roundtrip):
    X, y = dataset("diabetes")
    model = PoissonRegressor().fit(X, y)
    bad = X[:2].copy()
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.predict(bad)
    with pytest.raises(ValueError, match="NaN"):
        roundtrip(model).predict(bad)


@pytest.mark.parametrize("estimator", [None, LinearRegression(), Ridge(alpha=2.0),
                                       DecisionTreeRegressor(max_depth=3)], ids=repr)
def test_ransac(estimator, dataset, roundtrip, assert_parity):
    X, y = dataset("regression")
    y = y.copy()
    y[::10] += 500  # outliers
    model = RANSACRegressor(estimator=estimator, min_samples=50, random_state=0).fit(X, y)
    proxy = roundtrip(model)
    assert assert_parity(model, proxy, X) == ["predict"]
    assert proxy.estimator_.get_params().keys() == model.estimator_.get_params().keys()
    np.testing.assert_array_equal(proxy.inlier_mask_, model.inlier_mask_)


def test_ransac_with_unsupported_estimator_is_refused(dataset, tmp_path):
    from sklearn.neighbors import KNeighborsRegressor

    X, y = dataset("regression")
    model = RANSACRegressor(estimator=KNeighborsRegressor(metric="cosine"), min_samples=50,
                            random_state=0).fit(X, y)
    with pytest.raises(mle.UnsupportedModelError, match="KNeighborsRegressor"):
        mle.dump(model, tmp_path / "m.mle")
