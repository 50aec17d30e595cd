"""PyTorch modules: captured with ``torch.export`` and stored as a graph of neural-network ops.

``export(module, example_inputs=...)`` puts the module in eval mode, captures it with
``torch.export.export`` (the batch dimension dynamic, ``min=1``) and runs the default
decompositions except for the ops the native executor implements whole (linear, convolution,
pooling, softmax, layer norm, GELU/SiLU, mean, embedding). Parameters and buffers are read
from the exported program's graph signature and state dict; anything computed only from them
(a transposed weight, a folded constant) is evaluated once, here. Eval BatchNorm after a
convolution is folded into its weights; elsewhere it is a per-channel multiply-add.

Every value is a float32 tensor of shape (batch, *shape): the graph's values hold one batch
row each (docs/FORMAT.md 11.4), and ops that mix rows (a reduction or softmax over the batch,
a reshape folding the batch into another dimension) are refused. So are ops outside the
vocabulary, named with the module that produced them; recurrent and attention layers are not
supported yet. ``torch.jit.trace`` is never used.
"""

import math

import numpy as np

from mle_runtime.errors import UnsupportedModelError
from mle_runtime.exporters.base import header
from mle_runtime.ir.graph import Graph
from mle_runtime.ir.memory_plan import plan_memory

# What the registry passes through from dump(..., example_inputs=...).
OPTIONS = ("example_inputs",)

_LATER = ("lstm", "gru", "rnn_tanh", "rnn_relu", "scaled_dot_product_attention",
          "_scaled_dot_product", "multi_head_attention", "_transformer_encoder_layer_fwd")
_LATER_MODULES = ("LSTM", "GRU", "RNN", "LSTMCell", "GRUCell", "RNNCell", "MultiheadAttention",
                  "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
                  "TransformerDecoder", "Transformer")

_SUPPORTED_OPS = (
    "linear, addmm/mm/matmul with a stored right-hand side, conv1d/conv2d, batch_norm (eval), "
    "relu, leaky_relu, gelu, silu, sigmoid, tanh, softmax, log_softmax, add/sub/mul/div "
    "(broadcasting), max_pool2d, avg_pool2d, adaptive_avg_pool2d, view/reshape/flatten/"
    "squeeze/unsqueeze, permute/transpose, layer_norm, embedding, mean over dims, cat, dropout "
    "(eval)")


def supported():
    return ["nn.Module"]


def example_from_shape(input_shape):
    """The example input of the older ``export_model(model, path, input_shape=...)``."""
    import torch

    return (torch.zeros(tuple(int(d) for d in input_shape)),)


def export(obj, example_inputs=None):
    """Returns (Graph, metadata) for a ``torch.nn.Module`` captured on ``example_inputs``."""
    import torch

    cls = type(obj)
    if not isinstance(obj, torch.nn.Module):
        raise UnsupportedModelError(
            f"torch object of type {cls.__module__}.{cls.__qualname__} is not supported; "
            "pass a torch.nn.Module")
    if isinstance(obj, torch.jit.ScriptModule):
        raise UnsupportedModelError(
            f"{cls.__qualname__}: TorchScript modules are not supported yet; pass the "
            "original torch.nn.Module with example_inputs=")
    for path, sub in obj.named_modules():
        if type(sub).__name__ in _LATER_MODULES:
            raise UnsupportedModelError(
                f"{cls.__qualname__}: module '{path}' ({type(sub).__name__}) is not supported "
                "yet: recurrent and attention layers (LSTM, GRU, RNN, MultiheadAttention, "
                "Transformer layers) come in a later version")
    if example_inputs is None:
        raise UnsupportedModelError(
            f"{cls.__qualname__} is a torch.nn.Module: mle_runtime captures it with "
            "torch.export, which needs an example input. Pass example_inputs=(x,) with a "
            "tensor of the input's shape (any batch size), e.g. "
            "mle.dump(model, path, example_inputs=(torch.randn(1, 784),))")
    if isinstance(example_inputs, (torch.Tensor, np.ndarray)):
        example_inputs = (example_inputs,)
    example_inputs = tuple(torch.as_tensor(x) if isinstance(x, np.ndarray) else x
                           for x in example_inputs)
    if len(example_inputs) != 1 or not isinstance(example_inputs[0], torch.Tensor):
        raise UnsupportedModelError(
            f"{cls.__qualname__}: exactly one tensor input is supported for now, got "
            f"{len(example_inputs)} example input(s)")
    x0 = example_inputs[0]
    if x0.ndim < 1 or x0.shape[0] < 1:
        raise UnsupportedModelError("the example input needs a batch dimension of at least 1")
    if x0.shape[0] == 1:  # torch.export specialises a size-1 dimension: capture on two rows
        x0 = torch.cat([x0, x0])
    if x0.dtype == torch.float64:
        x0 = x0.float()
    if x0.dtype not in (torch.float32, torch.int64, torch.int32):
        raise UnsupportedModelError(
            f"{cls.__qualname__}: input dtype {x0.dtype} is not supported; float32 (or integer "
            "token ids for an embedding) only")
    for p in list(obj.parameters()) + list(obj.buffers()):
        if p.is_floating_point() and p.dtype != torch.float32:
            raise UnsupportedModelError(
                f"{cls.__qualname__}: parameters of dtype {p.dtype} are not supported; "
                "float32 only (call .float() first)")
    was_training = obj.training
    obj.eval()
    try:
        ep = _capture(obj, x0)
    finally:
        obj.train(was_training)
    graph = _Translator(obj, ep, x0).run()
    meta = header("torch", torch.__version__, cls.__qualname__)
    return graph, meta


def _capture(module, x0):
    import torch
    from torch.export import Dim, export as torch_export

    batch = Dim("batch", min=1)
    try:
        ep = torch_export(module, (x0,), dynamic_shapes=({0: batch},), strict=False)
    except Exception as e:  # data-dependent control flow, unsupported Python, ...
        raise UnsupportedModelError(
            f"{type(module).__qualname__} cannot be captured by torch.export with a dynamic "
            f"batch dimension: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        ) from None
    aten = torch.ops.aten
    keep = [aten.linear.default, aten.conv1d.default, aten.conv2d.default,
            aten.conv1d.padding, aten.conv2d.padding, aten.gelu.default, aten.silu.default,
            aten.softmax.int, aten.log_softmax.int, aten.layer_norm.default,
            aten.max_pool2d.default, aten.avg_pool2d.default, aten.adaptive_avg_pool2d.default,
            aten.mean.dim, aten.embedding.default, aten.leaky_relu.default,
            aten.flatten.using_ints, aten.matmul.default]
    table = torch.export.default_decompositions()
    for op in keep:
        table.pop(op, None)
    return ep.run_decompositions(table)


class _Const:
    """A value computed from parameters only (evaluated at dump time)."""

    def __init__(self, t):
        self.t = t


class _Value:
    """A runtime value of the graph: name and per-row shape."""

    def __init__(self, name, shape):
        self.name = name
        self.shape = tuple(int(d) for d in shape)


class _Batch:
    """The batch size (sym_size of dimension 0)."""


def _numel(shape):
    return int(math.prod(shape)) if shape else 1


class _Translator:
    def __init__(self, module, ep, x0):
        self.module = module
        self.ep = ep
        self.cls = type(module).__qualname__
        per_row = tuple(int(d) for d in x0.shape[1:])
        self.graph = Graph(self.cls, _numel(per_row))
        self.graph.allow_nan = True  # a network passes NaN through as torch does
        self.graph.allow_inf = True
        self.graph.inputs["shape"] = list(per_row) or [1]
        self.integer_input = not x0.is_floating_point()
        self.env = {}
        self.batch = None
        self.producer = {}  # value name -> (node index in graph.nodes, weight idx, bias idx)

    # ------------------------------------------------------------------ helpers
    def refuse(self, node, why):
        stack = node.meta.get("nn_module_stack") or {}
        if stack:
            path, typ = list(stack.values())[-1]
            typ = typ.__name__ if isinstance(typ, type) else str(typ).split(".")[-1]
            where = f"module '{path}' ({typ})" if path else f"the forward of {self.cls}"
        else:
            where = f"the forward of {self.cls}"
        raise UnsupportedModelError(f"{self.cls}: op {node.target} from {where}: {why}")

    def row_shape(self, node):
        """The per-row shape of a node's tensor result (its batch dimension checked)."""
        val = node.meta.get("val")
        if isinstance(val, (tuple, list)):  # an op with several results: the first
            val = val[0]
        shape = list(getattr(val, "shape", ()))
        if not shape or not self._is_batch(shape[0]):
            self.refuse(node, "its result does not keep the batch as its first dimension "
                        "(ops that mix batch rows are not supported)")
        out = []
        for d in shape[1:]:
            if not isinstance(d, int):
                self.refuse(node, "a non-batch dimension depends on the batch size")
            out.append(int(d))
        return tuple(out)

    def _is_batch(self, d):
        if isinstance(d, int):
            return False
        return str(d) == str(self.batch)

    def arg(self, node, a):
        import torch.fx

        if isinstance(a, torch.fx.Node):
            return self.env[a]
        if isinstance(a, (list, tuple)):
            return type(a)(self.arg(node, x) for x in a)
        return a

    def tensor_f32(self, t):
        import torch

        return self.graph.tensor(t.detach().to(torch.float32).contiguous().numpy(), "float32")

    def shape_tensor(self, shape):
        return self.graph.tensor(np.asarray(list(shape) or [1], dtype=np.int64), "int64")

    def emit(self, op, inputs, out_shape, **attrs):
        name = self.graph.add(op, [v.name for v in inputs], **attrs)
        return _Value(name, out_shape)

    # ------------------------------------------------------------------ the walk
    def run(self):
        ep = self.ep
        sig = ep.graph_signature
        state = dict(ep.state_dict)
        consts = dict(getattr(ep, "constants", {}) or {})
        params = dict(sig.inputs_to_parameters)
        params.update(sig.inputs_to_buffers)
        lifted = dict(getattr(sig, "inputs_to_lifted_tensor_constants", {}) or {})
        user_inputs = list(sig.user_inputs)
        outputs = None
        self.users = {n: len(n.users) for n in ep.graph.nodes}
        for node in ep.graph.nodes:
            if node.op == "placeholder":
                if node.name in params:
                    key = params[node.name]
                    t = state[key] if key in state else consts[key]
                    self.env[node] = _Const(t)
                elif node.name in lifted:
                    self.env[node] = _Const(consts[lifted[node.name]])
                elif node.name in user_inputs:
                    self.batch = node.meta["val"].shape[0]
                    self.env[node] = _Value("X", self.row_shape(node))
                else:
                    self.refuse(node, "an input of unknown kind")
            elif node.op == "call_function":
                self.env[node] = self.call(node)
            elif node.op == "output":
                outputs = node.args[0]
            else:
                self.refuse(node, f"graph node kind {node.op!r} is not supported")
        self.finish(outputs)
        return self.graph

    def finish(self, outputs):
        g = self.graph
        values = []
        for i, o in enumerate(outputs):
            v = self.env.get(o) if o is not None else None
            if not isinstance(v, _Value):
                raise UnsupportedModelError(
                    f"{self.cls}: output {i} is not a tensor computed from the input")
            if v.name == "X":
                v = self.emit_value("NnReshape", [v], v.shape)
            values.append(v)
        names = []
        for i, v in enumerate(values):
            name = "predict" if i == 0 else f"output_{i}"
            names.append(v.name)
            shape = list(v.shape)
            if not shape:
                g.output(name, v.name, ravel=True)
            elif len(shape) == 1:
                g.output(name, v.name)
            else:
                g.output(name, v.name, shape=shape)
        g.estimator_type = "neural_network"
        g.memory_plan = plan_memory(g.nodes, self.row_bytes(), names)

    def row_bytes(self):
        sizes = {}
        for n in self.graph.nodes:
            sizes[n.output] = 4 * self.widths[n.output]
        return sizes

    @property
    def widths(self):
        w = getattr(self, "_widths", None)
        if w is None:
            w = self._widths = {}
        return w

    def emit_value(self, op, inputs, out_shape, **attrs):
        v = self.emit(op, inputs, out_shape, **attrs)
        self.widths[v.name] = _numel(out_shape)
        return v

    # ------------------------------------------------------------------ ops
    def call(self, node):
        import operator

        target = node.target
        if target is operator.getitem:
            src, idx = self.env[node.args[0]], node.args[1]
            if isinstance(src, tuple):
                return src[idx]
            self.refuse(node, "indexing a tensor is not supported")
        name = str(target)
        parts = name.split(".")
        op = parts[1] if len(parts) > 1 and parts[0] == "aten" else name
        args = [self.arg(node, a) for a in node.args]
        kwargs = {k: self.arg(node, v) for k, v in node.kwargs.items()}
        if op == "sym_size":
            if args[1] != 0:
                self.refuse(node, "a shape other than the batch size is read at run time")
            return _Batch()
        if any(s in op for s in _LATER):
            self.refuse(node, "recurrent and attention layers are not supported yet")
        flat = list(args) + list(kwargs.values())
        flat = [y for x in flat for y in (x if isinstance(x, (list, tuple)) else [x])]
        if not any(isinstance(a, (_Value, _Batch)) for a in flat):
            return self.fold(node, target, args, kwargs)
        handler = getattr(self, "op_" + op, None)
        if handler is None:
            self.refuse(node, f"not supported; supported: {_SUPPORTED_OPS}")
        return handler(node, *args, **kwargs)

    def fold(self, node, target, args, kwargs):
        def unwrap(a):
            if isinstance(a, _Const):
                return a.t
            if isinstance(a, (list, tuple)):
                return type(a)(unwrap(x) for x in a)
            return a

        import torch

        with torch.no_grad():
            out = target(*unwrap(list(args)), **{k: unwrap(v) for k, v in kwargs.items()})
        if isinstance(out, (tuple, list)):
            return tuple(_Const(o) for o in out)
        return _Const(out)

    def need_value(self, node, v, what="input"):
        if not isinstance(v, _Value):
            self.refuse(node, f"its {what} must be computed from the model input")
        return v

    def need_const(self, node, v, what):
        if not isinstance(v, _Const):
            self.refuse(node, f"{what} must be a parameter or constant (a product of two "
                        "activations is not supported yet)")
        return v.t

    def axis(self, node, dim, ndim):
        """A tensor dimension (of a (batch, *shape) tensor of rank ndim) as a per-row axis."""
        d = dim + ndim if dim < 0 else dim
        if d <= 0 or d >= ndim:
            self.refuse(node, f"dimension {dim} is the batch dimension or out of range; ops "
                        "over the batch are not supported")
        return d - 1

    # dense
    def gemm(self, node, x, w_kn, bias):
        x = self.need_value(node, x)
        shape = self.row_shape(node)
        if not x.shape or x.shape[-1] != w_kn.shape[0]:
            self.refuse(node, "the input's last dimension does not match the weight")
        b = self.tensor_f32(bias.reshape(-1)) if bias is not None else None
        return self.emit_value("NnGemm", [x], shape, weight=self.tensor_f32(w_kn), bias=b)

    def op_linear(self, node, x, w, b=None):
        w = self.need_const(node, w, "the weight")
        b = self.need_const(node, b, "the bias") if b is not None else None
        return self.gemm(node, x, w.t(), b)

    def op_addmm(self, node, bias, x, w, beta=1, alpha=1):
        if beta != 1 or alpha != 1:
            self.refuse(node, "addmm with alpha or beta other than 1 is not supported")
        w = self.need_const(node, w, "the right-hand side")
        bias = self.need_const(node, bias, "the bias")
        if bias.numel() != w.shape[1]:
            self.refuse(node, "the bias is not one value per output column")
        return self.gemm(node, x, w, bias)

    def op_mm(self, node, x, w):
        return self.gemm(node, x, self.need_const(node, w, "the right-hand side"), None)

    def op_matmul(self, node, x, w):
        w = self.need_const(node, w, "the right-hand side")
        if w.ndim != 2:
            self.refuse(node, "matmul with a stored operand of rank other than 2")
        return self.gemm(node, x, w, None)

    # convolution
    def conv(self, node, x, w, b, stride, padding, dilation, groups, one_d):
        x = self.need_value(node, x)
        w = self.need_const(node, w, "the weight")
        b = self.need_const(node, b, "the bias") if b is not None else None
        shape = self.row_shape(node)
        k = 1 if one_d else 2
        stride, dilation = list(stride), list(dilation)
        if isinstance(padding, str):
            if padding == "valid":
                padding = [0] * k
            else:  # "same": symmetric when every dilation * (kernel - 1) is even
                ks = list(w.shape[2:])
                total = [d * (s - 1) for d, s in zip(dilation, ks)]
                if any(t % 2 for t in total):
                    self.refuse(node, "padding='same' with asymmetric padding")
                padding = [t // 2 for t in total]
        padding = list(padding)
        if one_d:
            if len(x.shape) != 2:
                self.refuse(node, "conv1d needs (batch, channels, length) input")
            in_shape = (x.shape[0], 1, x.shape[1])
            w = w.unsqueeze(2)
            stride, padding, dilation = [1] + stride, [0] + padding, [1] + dilation
        else:
            if len(x.shape) != 3:
                self.refuse(node, "conv2d needs (batch, channels, height, width) input")
            in_shape = x.shape
        v = self.emit_value(
            "NnConv", [x], shape, weight=self.tensor_f32(w),
            bias=self.tensor_f32(b) if b is not None else None,
            in_shape=self.shape_tensor(in_shape), stride_h=int(stride[0]),
            stride_w=int(stride[1]), pad_h=int(padding[0]), pad_w=int(padding[1]),
            dil_h=int(dilation[0]), dil_w=int(dilation[1]), groups=int(groups))
        self.producer[v.name] = (len(self.graph.nodes) - 1, w, b, node)
        return v

    def op_conv2d(self, node, x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1),
                  groups=1):
        stride, dilation = _pair(stride), _pair(dilation)
        padding = padding if isinstance(padding, str) else _pair(padding)
        return self.conv(node, x, w, b, stride, padding, dilation, groups, False)

    def op_conv1d(self, node, x, w, b=None, stride=(1,), padding=(0,), dilation=(1,), groups=1):
        stride, dilation = _single(stride), _single(dilation)
        padding = padding if isinstance(padding, str) else _single(padding)
        return self.conv(node, x, w, b, stride, padding, dilation, groups, True)

    def op_convolution(self, node, x, w, b, stride, padding, dilation, transposed,
                       output_padding, groups):
        if transposed:
            self.refuse(node, "transposed convolution is not supported yet")
        one_d = len(stride) == 1
        if len(stride) > 2:
            self.refuse(node, "only 1-D and 2-D convolutions are supported")
        return self.conv(node, x, w, b, list(stride), list(padding), list(dilation), groups,
                         one_d)

    def op__native_batch_norm_legit_no_training(self, node, x, w, b, mean, var, momentum, eps):
        y = self.batch_norm(node, x, w, b, mean, var, eps)
        return (y, None, None)

    def op_batch_norm(self, node, x, w, b, mean, var, training, momentum, eps, cudnn=False):
        if training:
            self.refuse(node, "batch_norm in training mode")
        return self.batch_norm(node, x, w, b, mean, var, eps)

    def batch_norm(self, node, x, w, b, mean, var, eps):
        import torch

        x = self.need_value(node, x)
        mean = self.need_const(node, mean, "the running mean").double()
        var = self.need_const(node, var, "the running variance").double()
        c = mean.numel()
        w = self.need_const(node, w, "the weight").double() if w is not None else torch.ones(c, dtype=torch.float64)
        b = self.need_const(node, b, "the bias").double() if b is not None else torch.zeros(c, dtype=torch.float64)
        scale = w / torch.sqrt(var + eps)
        shift = b - mean * scale
        prod = self.producer.get(x.name)
        conv_node = prod[3] if prod else None
        if prod is not None and self.users.get(conv_node) == 1 and \
                self.graph.nodes[prod[0]].output == x.name:
            idx, cw, cb, _ = prod
            attrs = self.graph.nodes[idx].attrs
            nw = (cw.detach().double() * scale.reshape(-1, *([1] * (cw.ndim - 1)))).float()
            nb = ((cb.detach().double() if cb is not None else torch.zeros(c, dtype=torch.float64)) *
                  scale + shift).float()
            self.graph.tensors[attrs["weight"]] = np.ascontiguousarray(nw.detach().numpy(), np.float32)
            attrs["bias"] = self.tensor_f32(nb)
            del self.producer[x.name]
            return x
        if not x.shape or x.shape[0] != c:
            self.refuse(node, "batch_norm's channels do not match the input")
        cshape = [c] + [1] * (len(x.shape) - 1)
        y = self.binary_const(node, "mul", x, scale.float().reshape(cshape), False, x.shape)
        return self.binary_const(node, "add", y, shift.float().reshape(cshape), False, x.shape)

    # activations
    def act(self, node, x, fn, alpha=None):
        x = self.need_value(node, x)
        return self.emit_value("NnActivation", [x], x.shape, fn=fn, alpha=alpha)

    def op_relu(self, node, x):
        return self.act(node, x, "relu")

    def op_leaky_relu(self, node, x, negative_slope=0.01):
        return self.act(node, x, "leaky_relu", float(negative_slope))

    def op_gelu(self, node, x, approximate="none"):
        return self.act(node, x, "gelu" if approximate == "none" else "gelu_tanh")

    def op_silu(self, node, x):
        return self.act(node, x, "silu")

    def op_sigmoid(self, node, x):
        return self.act(node, x, "sigmoid")

    def op_tanh(self, node, x):
        return self.act(node, x, "tanh")

    def softmax(self, node, x, dim, log):
        x = self.need_value(node, x)
        a = self.axis(node, dim, len(x.shape) + 1)
        return self.emit_value("NnSoftmax", [x], x.shape, outer=_numel(x.shape[:a]),
                               size=x.shape[a], inner=_numel(x.shape[a + 1:]),
                               log=True if log else None)

    def op_softmax(self, node, x, dim, dtype=None):
        return self.softmax(node, x, dim, False)

    def op__softmax(self, node, x, dim, half_to_float=False):
        return self.softmax(node, x, dim, False)

    def op_log_softmax(self, node, x, dim, dtype=None):
        return self.softmax(node, x, dim, True)

    def op__log_softmax(self, node, x, dim, half_to_float=False):
        return self.softmax(node, x, dim, True)

    # arithmetic
    def binary_const(self, node, op, x, c, reverse, out_shape):
        import torch

        c = torch.as_tensor(c, dtype=torch.float32)
        rank = len(out_shape) + 1
        cs = list(c.shape)
        if len(cs) > rank:
            self.refuse(node, "a constant operand has more dimensions than the result")
        cs = [1] * (rank - len(cs)) + cs
        if cs[0] != 1:
            self.refuse(node, "a constant operand varies along the batch dimension")
        cs = cs[1:] or [1]
        out = list(out_shape) or [1]
        xs = list(x.shape) or [1]
        if len(xs) != len(out):
            self.refuse(node, "operands of different ranks")
        return self.emit_value(
            "NnBinaryConst", [x], tuple(out_shape), fn=op,
            const=self.tensor_f32(c.reshape(-1)), a_shape=self.shape_tensor(xs),
            b_shape=self.shape_tensor(cs), shape=self.shape_tensor(out),
            reverse=True if reverse else None)

    def arith(self, node, op, a, b, alpha=1):
        if alpha != 1:
            self.refuse(node, "add/sub with alpha other than 1 is not supported")
        out_shape = self.row_shape(node)
        if isinstance(a, _Value) and isinstance(b, _Value):
            if len(a.shape) != len(out_shape) or len(b.shape) != len(out_shape):
                self.refuse(node, "broadcasting two computed tensors of different ranks")
            return self.emit_value("NnBinary", [a, b], out_shape, fn=op,
                                   a_shape=self.shape_tensor(a.shape),
                                   b_shape=self.shape_tensor(b.shape),
                                   shape=self.shape_tensor(out_shape))
        if isinstance(a, _Value):
            c = b.t if isinstance(b, _Const) else b
            if not isinstance(c, (int, float)) and not hasattr(c, "shape"):
                self.refuse(node, "an operand of unsupported kind")
            return self.binary_const(node, op, a, c, False, out_shape)
        c = a.t if isinstance(a, _Const) else a
        b = self.need_value(node, b, "second operand")
        return self.binary_const(node, op, b, c, op in ("sub", "div"), out_shape)

    def op_add(self, node, a, b, alpha=1):
        return self.arith(node, "add", a, b, alpha)

    def op_sub(self, node, a, b, alpha=1):
        return self.arith(node, "sub", a, b, alpha)

    def op_rsub(self, node, a, b, alpha=1):
        return self.arith(node, "sub", b, a, alpha)

    def op_mul(self, node, a, b):
        return self.arith(node, "mul", a, b)

    def op_div(self, node, a, b, rounding_mode=None):
        if rounding_mode is not None:
            self.refuse(node, f"division with rounding_mode={rounding_mode!r}")
        return self.arith(node, "div", a, b)

    # layout
    def view(self, node, x):
        x = self.need_value(node, x)
        shape = self.row_shape(node)
        if _numel(shape) != _numel(x.shape):
            self.refuse(node, "the view changes the number of values per batch row")
        return self.emit_value("NnReshape", [x], shape)

    def op_view(self, node, x, *_, **__):
        return self.view(node, x)

    op__unsafe_view = op_reshape = op_flatten = op_squeeze = op_unsqueeze = op_view
    op_clone = op_alias = op_contiguous = op_detach = op_lift_fresh_copy = op_view

    def op_dropout(self, node, x, p=0.5, train=False):
        if train:
            self.refuse(node, "dropout in training mode")
        return self.view(node, x)

    def op_permute(self, node, x, dims):
        x = self.need_value(node, x)
        nd = len(x.shape) + 1
        dims = [d + nd if d < 0 else d for d in dims]
        if dims[0] != 0:
            self.refuse(node, "the permutation moves the batch dimension")
        perm = [d - 1 for d in dims[1:]]
        shape = self.row_shape(node)
        if perm == list(range(len(perm))):
            return self.emit_value("NnReshape", [x], shape)
        return self.emit_value("NnPermute", [x], shape, shape=self.shape_tensor(x.shape),
                               perm=self.graph.tensor(np.asarray(perm, np.int64), "int64"))

    def op_transpose(self, node, x, d0, d1):
        x = self.need_value(node, x)
        nd = len(x.shape) + 1
        dims = list(range(nd))
        a, b = (d0 + nd if d0 < 0 else d0), (d1 + nd if d1 < 0 else d1)
        dims[a], dims[b] = dims[b], dims[a]
        return self.op_permute(node, x, dims)

    def op_cat(self, node, xs, dim=0):
        xs = [self.need_value(node, x, "inputs") for x in xs]
        shape = self.row_shape(node)
        a = self.axis(node, dim, len(shape) + 1)
        outer, inner = _numel(shape[:a]), _numel(shape[a + 1:])
        for x in xs:
            if len(x.shape) != len(shape) or _numel(x.shape[:a]) != outer or \
                    _numel(x.shape[a + 1:]) != inner:
                self.refuse(node, "inputs of different shapes outside the concatenated axis")
        return self.emit_value("NnConcat", xs, shape, outer=outer, inner=inner)

    # reductions, normalisation, embeddings
    def op_mean(self, node, x, dims=None, keepdim=False, dtype=None):
        x = self.need_value(node, x)
        nd = len(x.shape) + 1
        if dims is None or len(dims) == 0:
            self.refuse(node, "a mean over all dimensions includes the batch")
        axes = sorted(self.axis(node, d, nd) for d in dims)
        if axes != list(range(axes[0], axes[-1] + 1)):
            self.refuse(node, "a mean over non-adjacent dimensions")
        shape = self.row_shape(node)
        return self.emit_value("NnMean", [x], shape, outer=_numel(x.shape[:axes[0]]),
                               size=_numel(x.shape[axes[0]:axes[-1] + 1]),
                               inner=_numel(x.shape[axes[-1] + 1:]))

    def op_layer_norm(self, node, x, normalized_shape, w=None, b=None, eps=1e-5, cudnn=True):
        x = self.need_value(node, x)
        size = _numel(normalized_shape)
        if tuple(x.shape[len(x.shape) - len(normalized_shape):]) != tuple(normalized_shape):
            self.refuse(node, "normalized_shape does not match the input's last dimensions")
        w = self.need_const(node, w, "the weight") if w is not None else None
        b = self.need_const(node, b, "the bias") if b is not None else None
        return self.emit_value(
            "NnLayerNorm", [x], x.shape, size=size, eps=float(eps),
            weight=self.tensor_f32(w.reshape(-1)) if w is not None else None,
            bias=self.tensor_f32(b.reshape(-1)) if b is not None else None)

    def op_native_layer_norm(self, node, x, normalized_shape, w, b, eps):
        return (self.op_layer_norm(node, x, normalized_shape, w, b, eps), None, None)

    def op_embedding(self, node, w, ids, padding_idx=-1, scale_grad_by_freq=False,
                     sparse=False):
        w = self.need_const(node, w, "the embedding table")
        ids = self.need_value(node, ids, "token ids")
        if ids.name != "X" or not self.integer_input:
            self.refuse(node, "embedding ids must be the model's integer input")
        if w.ndim != 2:
            self.refuse(node, "the embedding table must be 2-D")
        return self.emit_value("NnEmbedding", [ids], self.row_shape(node),
                               weight=self.tensor_f32(w))

    # pooling
    def pool(self, node, kind, x, kernel, stride, padding, ceil_mode, include_pad=None):
        x = self.need_value(node, x)
        if len(x.shape) != 3:
            self.refuse(node, "2-D pooling needs (batch, channels, height, width) input")
        kernel = _pair(kernel)
        stride = _pair(stride) if stride else kernel
        padding = _pair(padding)
        return self.emit_value(
            "NnPool", [x], self.row_shape(node), kind=kind, in_shape=self.shape_tensor(x.shape),
            kernel_h=kernel[0], kernel_w=kernel[1], stride_h=stride[0], stride_w=stride[1],
            pad_h=padding[0], pad_w=padding[1], ceil_mode=True if ceil_mode else None,
            count_include_pad=None if include_pad is None or include_pad else False)

    def op_max_pool2d(self, node, x, kernel, stride=(), padding=0, dilation=1,
                      ceil_mode=False):
        if any(d != 1 for d in _pair(dilation)):
            self.refuse(node, "max_pool2d with dilation is not supported")
        return self.pool(node, "max", x, kernel, stride, padding, ceil_mode)

    def op_max_pool2d_with_indices(self, node, x, kernel, stride=(), padding=0, dilation=1,
                                   ceil_mode=False):
        if len(node.users) != 1 or any(u.args[1] != 0 for u in node.users):
            self.refuse(node, "max pooling indices are not supported")
        return (self.op_max_pool2d(node, x, kernel, stride, padding, dilation, ceil_mode), None)

    def op_avg_pool2d(self, node, x, kernel, stride=(), padding=0, ceil_mode=False,
                      count_include_pad=True, divisor_override=None):
        if divisor_override is not None:
            self.refuse(node, "avg_pool2d with divisor_override is not supported")
        return self.pool(node, "avg", x, kernel, stride, padding, ceil_mode, count_include_pad)

    def op_adaptive_avg_pool2d(self, node, x, output_size):
        x = self.need_value(node, x)
        if len(x.shape) != 3:
            self.refuse(node, "adaptive_avg_pool2d needs (batch, channels, height, width)")
        shape = self.row_shape(node)
        return self.emit_value("NnAdaptiveAvgPool", [x], shape,
                               in_shape=self.shape_tensor(x.shape), out_h=shape[1],
                               out_w=shape[2])

    op__adaptive_avg_pool2d = op_adaptive_avg_pool2d


def _pair(v):
    if isinstance(v, int):
        return [v, v]
    v = [int(a) for a in v]
    return v * 2 if len(v) == 1 else v


def _single(v):
    if isinstance(v, int):
        return [v]
    return [int(a) for a in v]
