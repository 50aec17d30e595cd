"""The PyTorch MLP (784-128-10 with Softmax) side by side: mle_runtime, torch eager, and ONNX
Runtime on the ``torch.onnx`` export (where it converts). One thread each; medians of
interleaved blocks (``peers.median_ns``). Used by ``compare.py --torch`` and by
``benchmarks/bench_torch.py``.
"""

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peers  # noqa: E402

BATCH = 256


def build_mlp():
    import torch

    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(784, 128), torch.nn.ReLU(),
                               torch.nn.Linear(128, 10), torch.nn.Softmax(dim=1)).eval()


def store(module, directory):
    """Writes the mle file (and the ONNX file when the export works); returns their paths."""
    import torch

    import mle_runtime as mle

    paths = {"mle": os.path.join(directory, "mlp.mle")}
    mle.dump(module, paths["mle"], example_inputs=(torch.zeros(2, 784),))
    onnx_path = os.path.join(directory, "mlp.onnx")
    try:
        torch.onnx.export(module, (torch.zeros(2, 784),), onnx_path, dynamo=False,
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
        paths["onnx"] = onnx_path
    except Exception as e:  # the exporter's own dependencies or an op it cannot convert
        paths["onnx_error"] = f"{type(e).__name__}: {e}".splitlines()[0]
    return paths


def runners(module, paths):
    """{peer: callable(X) -> output}, one thread each."""
    import torch

    import mle_runtime as mle

    torch.set_num_threads(1)
    out = {}
    m = mle.load(paths["mle"], n_threads=1)
    out["mle_runtime"] = m.predict

    def eager(X):
        with torch.inference_mode():
            return module(torch.from_numpy(X)).numpy()

    out["torch eager"] = eager
    if "onnx" in paths:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(paths["onnx"], so, providers=["CPUExecutionProvider"])
        out["onnxruntime"] = lambda X: sess.run(None, {"x": X})[0]
    return out


def measure(budget_s=0.5):
    """Rows: (peer, 1-row latency ns, rows/s at batch 256, max abs diff vs torch eager)."""
    module = build_mlp()
    rng = np.random.default_rng(0)
    X1 = rng.normal(size=(1, 784)).astype(np.float32)
    XB = rng.normal(size=(BATCH, 784)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        paths = store(module, d)
        run = runners(module, paths)
        names = list(run)
        one = peers.median_ns([lambda f=run[n]: f(X1) for n in names], budget_s=budget_s)
        batch = peers.median_ns([lambda f=run[n]: f(XB) for n in names], budget_s=budget_s)
        ref = run["torch eager"](XB)
        rows = [(n, one[i], BATCH / (batch[i] * 1e-9), float(np.abs(run[n](XB) - ref).max()))
                for i, n in enumerate(names)]
    return rows, paths.get("onnx_error")


def main():
    rows, onnx_error = measure()
    print(f"PyTorch MLP 784-128-10 + Softmax, 1 thread (batch {BATCH} for throughput)")
    print(f"{'runtime':<14} {'1-row latency':>14} {'rows/s':>12} {'max |diff|':>11}")
    base = {r[0]: r for r in rows}["mle_runtime"]
    for name, ns, rate, diff in rows:
        ratio = "" if name == "mle_runtime" else \
            f"   mle {ns / base[1]:.2f}x faster 1-row, {base[2] / rate:.2f}x throughput"
        print(f"{name:<14} {ns / 1e3:>11.2f} us {rate:>12,.0f} {diff:>11.1e}{ratio}")
    if onnx_error:
        print(f"onnxruntime: the torch.onnx export failed ({onnx_error})")


if __name__ == "__main__":
    main()
