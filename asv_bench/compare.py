"""Side-by-side benchmark (``make bench``): mle_runtime, joblib + scikit-learn and ONNX Runtime.

For every model of ``peers.CASES`` it prints file size, dump time (``joblib.dump`` with
compress=0 beside ``mle.dump``, which validates the bytes with the native loader and writes
atomically with fsync), load time, single-row latency, batch throughput and parity, one table per metric, with how many times smaller/faster mle_runtime is
than each peer; then the cold-process start of each runtime.

    python asv_bench/compare.py                       # all peers, all models
    python asv_bench/compare.py --peers joblib,mle    # only some peers
    python asv_bench/compare.py --models scaler+logreg --json bench.json

lleaves (LLVM-compiled LightGBM models) joins the LightGBM rows when it is installed (an
optional extra: ``pip install lleaves``). For every tree model it also prints the batch
throughput in node visits per second per core.

ONNX Runtime runs the skl2onnx conversion of each model with float32 input (what the
converters support); its load time is an ``InferenceSession`` built from the file's bytes.
Models and peers are defined in ``peers.py``: a new model is one more ``Case``, a new runtime
(XGBoost's or LightGBM's own predictor, ...) one more ``Peer``.

    python asv_bench/compare.py --torch               # the PyTorch MLP (torch_mlp.py):
                                                      # mle_runtime, torch eager, ONNX Runtime
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import peers  # noqa: E402

if __name__ == "__main__" and sys.argv[1:] == ["--torch"]:
    import torch_mlp

    torch_mlp.main()
elif __name__ == "__main__":
    peers.main(peer_names=tuple(peers.PEERS), split=True, description=__doc__.split("\n\n")[0])
