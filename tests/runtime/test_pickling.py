"""Loaded models pickle as their .mle bytes (joblib.Parallel, multiprocessing, Dask/Ray
workers): no code travels, and unpickling validates the bytes as load does."""

import copy
import multiprocessing
import pickle
import pickletools

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime.runtime.proxies import MLEModel


@pytest.fixture(scope="module")
def data():
    return load_breast_cancer(return_X_y=True)


@pytest.fixture(scope="module")
def models(data, tmp_path_factory):
    X, y = data
    d = tmp_path_factory.mktemp("pickling")
    out = {}
    for name, est in {
        "forest": RandomForestClassifier(30, random_state=0).fit(X, y),
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y),
    }.items():
        mle.dump(est, d / f"{name}.mle")
        out[name] = (est, mle.load(d / f"{name}.mle", cache=False))
    return out


def _globals(payload):
    """The (module, name) pairs a pickle stream would import."""
    found, strings = [], []
    for op, arg, _ in pickletools.genops(payload):
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            found.append(tuple(strings[-2:]))
        elif op.name == "GLOBAL":
            found.append(tuple(arg.split(" ")))
    return found


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
@pytest.mark.parametrize("name", ["forest", "pipeline"])
def test_pickle_round_trip_predicts_identically(models, data, name, protocol):
    est, proxy = models[name]
    X, _ = data
    payload = pickle.dumps(proxy, protocol=protocol)
    # protocol 2 spells bytes as _codecs.encode(latin-1 str): the standard library's own
    expected = {("mle_runtime.runtime.proxies", "_unpickle")}
    if protocol == 2:
        expected.add(("_codecs", "encode"))
    assert set(_globals(payload)) == expected
    back = pickle.loads(payload)
    assert isinstance(back, MLEModel) and back is not proxy
    np.testing.assert_array_equal(back.predict(X), est.predict(X))
    np.testing.assert_array_equal(back.predict_proba(X), proxy.predict_proba(X))
    np.testing.assert_array_equal(back.predict(X[:1]), est.predict(X[:1]))
    assert back.metadata == proxy.metadata
    # the payload is the file's bytes, plus a few dozen bytes of pickle framing (protocol 2
    # spells bytes as UTF-8 text: up to twice as long)
    size = proxy.get_model_info()["file_size"]
    assert len(payload) < (2 * size if protocol == 2 else size) + 200


def test_protocol5_sends_the_bytes_out_of_band(models, data):
    est, proxy = models["forest"]
    buffers = []
    payload = pickle.dumps(proxy, protocol=5, buffer_callback=buffers.append)
    assert len(buffers) == 1 and len(payload) < 200
    assert buffers[0].raw().nbytes == proxy.get_model_info()["file_size"]
    back = pickle.loads(payload, buffers=buffers)
    np.testing.assert_array_equal(back.predict(data[0]), est.predict(data[0]))


def test_unpickling_validates_the_bytes(models):
    _, proxy = models["forest"]
    payload = bytearray(pickle.dumps(proxy, protocol=4))
    body = proxy._native.file_bytes()
    start = bytes(payload).index(body[:64])
    # a byte inside the tensor data: the section checksum no longer matches
    payload[start + len(body) - 100] ^= 0x40
    with pytest.raises(mle.FormatError, match="checksum"):
        pickle.loads(bytes(payload))
    # the bytes handed to the restorer must be an .mle file
    from mle_runtime.runtime.proxies import _unpickle
    with pytest.raises(mle.FormatError):
        _unpickle(b"\x80\x04K\x01." + b"\0" * 100)


def test_copy_and_deepcopy_share_the_immutable_model(models):
    _, proxy = models["forest"]
    assert copy.copy(proxy) is proxy
    assert copy.deepcopy({"m": proxy})["m"] is proxy


def test_n_threads_setting_travels(models, tmp_path):
    est, _ = models["forest"]
    path = tmp_path / "m.mle"
    mle.dump(est, path)
    proxy = mle.load(path, n_threads=1, cache=False)
    back = pickle.loads(pickle.dumps(proxy))
    assert back._n_threads == 1 and back._threads == 1


def _predict_in_worker(args):
    model, X = args
    return model.predict(X)


def test_multiprocessing_pool_with_spawn(models, data):
    est, proxy = models["pipeline"]
    X, _ = data
    chunks = np.array_split(X, 4)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        parts = pool.map(_predict_in_worker, [(proxy, c) for c in chunks])
    np.testing.assert_array_equal(np.concatenate(parts), est.predict(X))


def test_joblib_parallel_with_processes(models, data):
    from joblib import Parallel, delayed

    est, proxy = models["forest"]
    X, _ = data
    chunks = np.array_split(X, 4)
    parts = Parallel(n_jobs=2, backend="loky")(delayed(_predict_in_worker)((proxy, c))
                                                for c in chunks)
    np.testing.assert_array_equal(np.concatenate(parts), est.predict(X))


def test_models_inside_a_loaded_value_pickle_too(tmp_path):
    X, y = load_iris(return_X_y=True)
    est = LogisticRegression(max_iter=1000).fit(X, y)
    mle.dump({"model": est, "classes": list(est.classes_)}, tmp_path / "v.mle")
    value = mle.load(tmp_path / "v.mle")
    back = pickle.loads(pickle.dumps(value))
    np.testing.assert_array_equal(back["model"].predict(X), est.predict(X))
    assert back["classes"] == [0, 1, 2]
