"""mle_runtime next to joblib + scikit-learn on real models (this is what ``make demo`` runs).

Trains linear models, pipelines and tree ensembles on the datasets bundled with scikit-learn
(iris, wine, breast_cancer, diabetes) and on seeded synthetic data (20,000 rows, 3 classes, for
the random forest, the histogram gradient boosting and the XGBoost, LightGBM and CatBoost
classifiers), stores each one with ``joblib.dump`` and with ``mle_runtime.dump``, and
prints one table: file size, dump time, load time, single-row latency, batch throughput and
parity of the outputs, followed by the cold-process start of a fresh ``python -c`` that loads
and predicts.

    python examples/compare.py            # about a minute and a half
    python examples/compare.py --quick    # seconds; a smoke test, not numbers
    python examples/compare.py --json results.json

The measuring and table code is shared with ``asv_bench/compare.py`` (``make bench``, which adds
ONNX Runtime) and lives in ``asv_bench/peers.py``.
"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "asv_bench"))

import peers  # noqa: E402

if __name__ == "__main__":
    peers.main(peer_names=("joblib", "mle"), description=__doc__.split("\n\n")[0])
