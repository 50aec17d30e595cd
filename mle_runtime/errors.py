"""Exceptions raised by mle_runtime.

Every error subclasses :class:`MLEError` and also the builtin exception a caller of
scikit-learn or joblib would catch for the same situation.
"""


class MLEError(Exception):
    """Base class of every mle_runtime error."""


class FormatError(MLEError, ValueError):
    """The file is not a valid .mle file: wrong magic, truncated, checksum mismatch, bad
    offsets, invalid JSON, or a graph that fails validation."""


class UnsupportedModelError(MLEError, TypeError):
    """The object cannot be represented natively (or the file needs a newer mle_runtime)."""


class InputError(MLEError, ValueError):
    """The data given to predict/transform does not fit the model (shape, columns, NaN...)."""


class InputTypeError(InputError, TypeError):
    """Input of a type the model cannot take, where scikit-learn raises TypeError (a
    FeatureHasher sample whose feature name or value is not a string or a number)."""


class SignatureError(MLEError, ValueError):
    """A signature is required or was checked and does not hold: the file is unsigned, signed
    by another key, or was modified after it was signed."""


class DecryptionError(MLEError, ValueError):
    """An encrypted file cannot be decrypted: no key was given, the key or passphrase is
    wrong, or the encrypted data was modified (or a key was given for a file that is not
    encrypted)."""


class PickleNotAllowedError(MLEError, ValueError):
    """The file holds objects stored with pickle (``dump(..., allow_pickle=True)``), and
    loading it was not allowed to unpickle them (``load(..., allow_pickle=True)``)."""


class MissingDependencyError(MLEError, ImportError):
    """An optional package that the file or the option needs is not installed: ``zstandard``
    for zstd compression (``pip install 'mle_runtime[compression]'``), ``cryptography`` for
    signing, verification and encryption (``pip install 'mle_runtime[security]'``). The file
    itself may be perfectly valid."""


class ReadOnlyModelError(MLEError, TypeError):
    """A loaded model was asked to change: ``fit``, ``set_params`` with another value, or a
    refit by cross-validation. Loaded models are read-only; ``sklearn.base.clone(model)``
    gives an unfitted estimator with the same parameters."""
