"""Parity of IsotonicRegression with its .mle proxy: ``predict`` and ``transform`` equal to
scikit-learn's bit for bit (the same interpolation arithmetic as scipy's interp1d), for 1-D
and one-column input, float32 and float64, values on and between the thresholds and outside
them, with each ``out_of_bounds`` rule."""

import numpy as np
import pytest
from sklearn.isotonic import IsotonicRegression

import mle_runtime as mle


def fitted(**kw):
    rng = np.random.RandomState(0)
    x = rng.uniform(0, 10, size=200)
    y = np.sin(x) + x + rng.normal(scale=0.5, size=200)
    return IsotonicRegression(**kw).fit(x, y), x


def probe(model, x):
    lo, hi = model.X_thresholds_[0], model.X_thresholds_[-1]
    inside = np.r_[x, model.X_thresholds_, (model.X_thresholds_[1:] + model.X_thresholds_[:-1]) / 2,
                   np.nextafter(lo, np.inf), np.nextafter(hi, -np.inf)]
    outside = np.r_[np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf), -100.0, 1e6]
    return inside, outside


def same(a, b):
    assert type(b) is np.ndarray and a.shape == b.shape and a.dtype == b.dtype
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kw", [{}, {"increasing": False}, {"increasing": "auto"},
                                {"y_min": 2.0, "y_max": 8.0}])
@pytest.mark.parametrize("oob", ["nan", "clip", "raise"])
def test_isotonic(kw, oob, roundtrip):
    model, x = fitted(out_of_bounds=oob, **kw)
    proxy = roundtrip(model)
    inside, outside = probe(model, x)
    for data in (inside, inside.reshape(-1, 1), inside.astype(np.float32), inside[:1],
                 inside.tolist(), inside[::3]):
        for method in ("predict", "transform"):
            try:
                expected = getattr(model, method)(data)
            except ValueError:  # float32 rounding took a value outside the range ("raise")
                with pytest.raises(ValueError, match="interpolation range"):
                    getattr(proxy, method)(data)
                continue
            same(expected, getattr(proxy, method)(data))
    if oob == "raise":
        for v in outside:
            with pytest.raises(ValueError, match="interpolation range") as e:
                model.predict([v])
            which = "below" if "below" in str(e.value) else "above"
            with pytest.raises(mle.InputError, match=f"{which} the interpolation range"):
                proxy.predict([v])
    else:
        same(model.predict(outside), proxy.predict(outside))
        same(model.transform(outside.reshape(-1, 1)), proxy.transform(outside.reshape(-1, 1)))
    np.testing.assert_array_equal(proxy.X_thresholds_, model.X_thresholds_)


def test_constant_fit_and_input_checks(roundtrip):
    x = np.arange(10.0)
    model = IsotonicRegression().fit(x, np.full(10, 3.0))
    proxy = roundtrip(model)
    data = np.array([-5.0, 0.0, 4.5, 100.0])
    same(model.predict(data), proxy.predict(data))
    for bad in (np.array([1.0, np.nan]), np.array([[1.0, 2.0]])):
        with pytest.raises(ValueError):
            model.predict(bad)
        with pytest.raises(ValueError):
            proxy.predict(bad)


def test_refused_settings(tmp_path):
    x = np.arange(10.0, dtype=np.float32)
    model = IsotonicRegression().fit(x, x)
    with pytest.raises(mle.UnsupportedModelError, match="float32"):
        mle.dump(model, tmp_path / "m.mle")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), IsotonicRegression()).fit(
        np.arange(10.0).reshape(-1, 1), np.arange(10.0))
    with pytest.raises(mle.UnsupportedModelError, match="pipeline step"):
        mle.dump(pipe, tmp_path / "p.mle")
