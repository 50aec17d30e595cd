"""PyTorch modules: captured by torch.export, run by the native neural-network ops.

Parity: at most 1e-5 max absolute difference from torch eager in float32, for batches of 1,
7 and 1000 rows, on seeded models (an MLP with softmax, a CNN with BatchNorm folded into its
convolutions, a ResNet-style block, an embedding text classifier, and modules covering every
other op of the vocabulary). Also: input conversion (numpy float32/float64, lists, torch
tensors), ``run([X])``, the memory plan against its lower bound, the refusals, the older
``export_model`` API, and loading without importing torch.
"""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

import mle_runtime as mle
from mle_runtime import UnsupportedModelError

TOL = 1e-5
BATCHES = (1, 7, 1000)


def seeded(module, seed=0):
    """``module`` in eval mode with BatchNorm statistics that are not the identity."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)
    return module.eval()


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        return self.fc(torch.flatten(self.features(x), 1))


class ResBlock(nn.Module):
    def __init__(self, c=8):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c),
                                  nn.ReLU())
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.down = nn.Sequential(nn.Conv2d(c, 2 * c, 1, stride=2), nn.BatchNorm2d(2 * c))
        self.conv3 = nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * c, 5)

    def forward(self, x):
        x = self.stem(x)
        y = torch.relu(self.bn1(self.conv1(x)))
        x = torch.relu(x + self.bn2(self.conv2(y)))
        x = torch.relu(self.down(x) + self.conv3(x))
        return self.fc(torch.flatten(self.pool(x), 1))


class TextClassifier(nn.Module):
    def __init__(self, vocab=100, dim=16, classes=4):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, ids):
        return self.fc(self.emb(ids).mean(dim=1))


class Audio(nn.Module):
    """1-D convolutions (stride, dilation, groups), LayerNorm over channels, GELU/SiLU, avg
    pooling, a transpose, a concatenation, log-softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv1d(2, 8, 5, stride=2, padding=2)
        self.bn = nn.BatchNorm1d(8)
        self.c2 = nn.Conv1d(8, 8, 3, padding=2, dilation=2, groups=4)
        self.ln = nn.LayerNorm(8)
        self.fc = nn.Linear(16 * 8, 6)

    def forward(self, x):
        a = nn.functional.silu(self.bn(self.c1(x)))
        b = nn.functional.gelu(self.c2(a), approximate="tanh")
        h = self.ln(b.transpose(1, 2))            # (n, 16, 8)
        z = torch.cat([h, torch.tanh(h)], dim=1)  # (n, 32, 8)
        z = nn.functional.avg_pool2d(z.unsqueeze(1), (2, 1)).flatten(1)
        return nn.functional.log_softmax(self.fc(z), dim=-1)


class Elementwise(nn.Module):
    """Broadcasting arithmetic with stored and computed operands, the remaining
    activations, permute, mean over a middle dimension, a second output."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(12, 12)
        self.scale = nn.Parameter(torch.linspace(0.5, 2.0, 4).reshape(4, 1))
        self.offset = nn.Parameter(torch.linspace(-1.0, 1.0, 3))

    def forward(self, x):                           # x: (n, 4, 3)
        y = self.lin(x.reshape(x.shape[0], 12)).reshape(-1, 4, 3)
        y = torch.sigmoid(y) * self.scale - self.offset
        z = (2.0 - nn.functional.leaky_relu(x, 0.2)) / (1.5 + torch.sigmoid(y))
        w = nn.functional.gelu(z) + torch.tanh(y) * x - y / 3
        p = w.permute(0, 2, 1)                      # (n, 3, 4)
        return torch.softmax(p, dim=1), p.mean(dim=2)


class Pooling(nn.Module):
    """Pooling with padding and ceil_mode, average pooling without the padding in the
    divisor, adaptive pooling to sizes that do not divide the input, BatchNorm that is not
    after a convolution, and an output that is a view of the input: five outputs."""

    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        y = self.c(x)
        return (nn.functional.max_pool2d(y, 3, stride=2, padding=1, ceil_mode=True),
                nn.functional.avg_pool2d(y, 3, stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False),
                nn.functional.adaptive_avg_pool2d(y, (3, 5)),
                self.bn(x),
                x.unsqueeze(1).squeeze(1))


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10),
                                  nn.Softmax(dim=1)), (784,), "float"),
    "cnn": (CNN, (1, 28, 28), "float"),
    "resnet_block": (ResBlock, (3, 16, 16), "float"),
    "text": (TextClassifier, (12,), "ids"),
    "audio": (Audio, (2, 32), "float"),
    "elementwise": (Elementwise, (4, 3), "float"),
    "pooling": (Pooling, (3, 13, 11), "float"),
}


def inputs(kind, shape, n, seed):
    g = torch.Generator().manual_seed(seed)
    if kind == "ids":
        return torch.randint(0, 100, (n,) + shape, generator=g)
    return torch.randn((n,) + shape, generator=g)


@pytest.fixture(scope="module")
def dumped(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            make, shape, kind = MODELS[name]
            torch.manual_seed(0)
            module = seeded(make())
            path = tmp_path_factory.mktemp("torch") / f"{name}.mle"
            assert mle.dump(module, path, example_inputs=(inputs(kind, shape, 2, 1),)) == [str(path)]
            cache[name] = (module, mle.load(path), shape, kind)
        return cache[name]

    return get


def eager(module, x):
    with torch.no_grad():
        out = module(x)
    return [o.numpy() for o in out] if isinstance(out, tuple) else [out.numpy()]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_parity_with_torch_eager(dumped, name):
    module, model, shape, kind = dumped(name)
    for n in BATCHES:
        x = inputs(kind, shape, n, seed=n)
        expected = eager(module, x)
        got = model.run([x.numpy()])
        assert len(got) == len(expected)
        for e, o in zip(expected, got):
            assert o.dtype == np.float32 and o.shape == e.shape
            assert np.abs(o - e).max() <= TOL, (name, n, np.abs(o - e).max())
        np.testing.assert_array_equal(model.predict(x.numpy()), got[0])


def test_mlp_softmax_rows_sum_to_one(dumped):
    _, model, shape, kind = dumped("mlp")
    p = model.predict(inputs(kind, shape, 50, 3).numpy())
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)


def test_inputs_torch_tensors_lists_float64(dumped):
    module, model, shape, kind = dumped("cnn")
    x = inputs(kind, shape, 3, 4)
    expected = eager(module, x)[0]
    for given in (x, x.numpy(), x.numpy().astype(np.float64), x.numpy().tolist()):
        assert np.abs(model.predict(given) - expected).max() <= TOL
    _, text, tshape, tkind = dumped("text")
    ids = inputs(tkind, tshape, 4, 5)
    np.testing.assert_array_equal(text.predict(ids), text.predict(ids.numpy().astype(np.int32)))


def test_wrong_input_shape_is_refused(dumped):
    _, model, _, _ = dumped("cnn")
    with pytest.raises(mle.InputError, match=r"expects input of shape \(n, 1, 28, 28\)"):
        model.predict(np.zeros((2, 784), np.float32))


def test_out_of_range_token_id_is_an_error(dumped):
    _, model, _, _ = dumped("text")
    with pytest.raises(ValueError, match="token id"):
        model.predict(np.full((1, 12), 100))


def test_the_file_stores_the_plan(dumped):
    _, model, _, _ = dumped("cnn")
    graph = model._tensors().graph()
    plan = graph["memory_plan"]
    assert len(plan["offsets"]) == len(graph["nodes"]) and plan["arena"] > 0


def test_plan_reaches_the_liveness_lower_bound():
    from mle_runtime.exporters import torch as torch_exporter

    for name in ("mlp", "cnn", "resnet_block", "text"):
        make, shape, kind = MODELS[name]
        torch.manual_seed(0)
        graph, _ = torch_exporter.export(seeded(make()), example_inputs=(inputs(kind, shape, 2, 1),))
        plan = graph.memory_plan
        assert plan.arena == plan.lower_bound, (name, plan)
        assert plan.arena < plan.total or plan.total <= plan.lower_bound


def test_loading_and_predicting_import_no_torch(dumped, tmp_path):
    module, model, shape, kind = dumped("cnn")
    path = tmp_path / "cnn.mle"
    mle.dump(module, path, example_inputs=(inputs(kind, shape, 1, 0),))
    code = textwrap.dedent(f"""
        import sys
        import numpy as np
        import mle_runtime as mle
        m = mle.load({str(path)!r})
        out = m.predict(np.zeros((2, 1, 28, 28), np.float32))
        assert out.shape == (2, 10), out.shape
        bad = [k for k in ("torch", "sklearn", "scipy", "pandas") if k in sys.modules]
        assert not bad, bad
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plain_module_without_example_inputs_says_what_to_pass(tmp_path):
    with pytest.raises(UnsupportedModelError, match="example_inputs"):
        mle.dump(nn.Linear(3, 2), tmp_path / "m.mle")
    assert not (tmp_path / "m.mle").exists()


@pytest.mark.parametrize("module, fragment", [
    (nn.LSTM(4, 8, batch_first=True), "LSTM"),
    (nn.GRU(4, 8, batch_first=True), "GRU"),
    (nn.MultiheadAttention(4, 2, batch_first=True), "MultiheadAttention"),
])
def test_recurrent_and_attention_layers_are_refused(tmp_path, module, fragment):
    with pytest.raises(UnsupportedModelError, match=f"{fragment}.*later"):
        mle.dump(module, tmp_path / "m.mle", example_inputs=(torch.zeros(2, 5, 4),))


class CumSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(4, 4))
        self.head = Wrapper()

    def forward(self, x):
        return self.head(self.inner(x))


class Wrapper(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, dim=1)


class BatchSoftmax(nn.Module):
    def forward(self, x):
        return torch.softmax(x, dim=0)


def test_an_op_outside_the_vocabulary_is_refused_with_its_module(tmp_path):
    with pytest.raises(UnsupportedModelError, match=r"cumsum.*module 'head' \(Wrapper\)"):
        mle.dump(CumSum(), tmp_path / "m.mle", example_inputs=(torch.zeros(2, 4),))


def test_ops_over_the_batch_are_refused(tmp_path):
    with pytest.raises(UnsupportedModelError, match="batch"):
        mle.dump(BatchSoftmax(), tmp_path / "m.mle", example_inputs=(torch.zeros(2, 4),))


def test_example_inputs_for_another_framework_is_a_type_error(tmp_path):
    from sklearn.linear_model import LinearRegression

    est = LinearRegression().fit(np.eye(3), np.arange(3.0))
    with pytest.raises(TypeError, match="example_inputs"):
        mle.dump(est, tmp_path / "m.mle", example_inputs=(np.eye(3),))


def test_export_model_builds_the_example_from_input_shape(tmp_path):
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(20, 8), nn.Tanh(), nn.Linear(8, 2)).eval()
    info = mle.export_model(module, tmp_path / "m.mle", input_shape=(1, 20))
    assert info["success"] and info["model_class"] == "torch.Sequential"
    x = torch.randn(5, 20)
    rt = mle.load_model(tmp_path / "m.mle")
    assert np.abs(rt.run([x.numpy()])[0] - eager(module, x)[0]).max() <= TOL
    bad = mle.export_model(nn.LSTM(4, 4), tmp_path / "l.mle", input_shape=(1, 3, 4),
                           raise_on_error=False)
    assert not bad["success"] and "LSTM" in bad["error"]


def test_module_left_in_training_mode_is_restored(tmp_path):
    module = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4))
    module.train()
    mle.dump(module, tmp_path / "m.mle", example_inputs=(torch.zeros(3, 4),))
    assert module.training
    module.eval()
    x = torch.randn(6, 4)
    got = mle.load(tmp_path / "m.mle").predict(x.numpy())
    assert np.abs(got - eager(module, x)[0]).max() <= TOL
