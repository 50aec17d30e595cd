"""asv benchmarks: the PyTorch MLP (784-128-10 with Softmax) in mle_runtime and torch eager,
one row and a batch of 256, one thread (asv_bench/torch_mlp.py builds and stores it)."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch_mlp  # noqa: E402


class TorchMLP:
    params = (["mle_runtime", "torch eager"], [1, 256])
    param_names = ["runtime", "rows"]

    def setup_cache(self):
        module = torch_mlp.build_mlp()
        return torch_mlp.store(module, os.path.abspath("."))

    def setup(self, paths, runtime, rows):
        self.fn = torch_mlp.runners(torch_mlp.build_mlp(), paths)[runtime]
        self.X = np.random.default_rng(0).normal(size=(rows, 784)).astype(np.float32)

    def time_predict(self, paths, runtime, rows):
        self.fn(self.X)

    def time_load(self, paths, runtime, rows):
        if runtime == "mle_runtime":
            import mle_runtime as mle

            mle.load(paths["mle"])
