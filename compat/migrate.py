"""Converting existing joblib/pickle files to .mle files: :func:`migrate`.

>>> from mle_runtime.compat import migrate
>>> report = migrate("models/", "models-mle/", trust=True)    # doctest: +SKIP
>>> print(report)                                              # doctest: +SKIP
>>> report.ok                                                  # doctest: +SKIP

Every source file is unpickled (``joblib.load``), which runs whatever code it contains: only
for files from a trusted origin, hence ``trust=True``. Each value is then stored with
:func:`mle_runtime.dump`, loaded back with :func:`mle_runtime.load` and compared with the
original before the .mle file is written (atomically): a file is reported converted only
when it loads back to the same value. The console script ``mle-export DIR [OUTDIR] --trust``
runs the same function.
"""

import fnmatch
import io
import os

import numpy as np

import mle_runtime as mle
from mle_runtime.api import value_hooks
from mle_runtime.compat import pickle_fallback
from mle_runtime.errors import PickleNotAllowedError, UnsupportedModelError
from mle_runtime.format import compression, values, writer
from mle_runtime.format import layout as L
from mle_runtime.runtime.proxies import MLEModel

DEFAULT_PATTERNS = ("*.joblib", "*.pkl", "*.pickle", "*.jbl")

CONVERTED = "converted"        # stored natively: loads without pickle
PICKLED = "pickled"            # converted with a pickle section (allow_pickle=True)
NEEDS_PICKLE = "needs_pickle"  # not converted: parts need pickle and allow_pickle is False
FAILED = "failed"              # not converted: could not be loaded, stored or verified
SKIPPED = "skipped"            # not converted: the destination exists and overwrite is False

STATUSES = (CONVERTED, PICKLED, NEEDS_PICKLE, FAILED, SKIPPED)
_LABELS = {CONVERTED: "converted", PICKLED: "pickle section", NEEDS_PICKLE: "needs pickle",
           FAILED: "failed", SKIPPED: "skipped"}


class FileResult:
    """What happened to one source file.

    Attributes
    ----------
    source : str
        The joblib/pickle file.
    destination : str
        The .mle file (written only when ``status`` is ``"converted"`` or ``"pickled"``).
    status : str
        ``"converted"`` (stored natively, loads without pickle), ``"pickled"`` (converted
        with a pickle section: loading needs ``allow_pickle=True``), ``"needs_pickle"`` (not
        converted: ``problems`` need pickle and ``allow_pickle`` was False), ``"failed"`` (not
        converted: ``error`` says why) or ``"skipped"`` (the destination exists and
        ``overwrite`` was False).
    problems : list of (str, str, str)
        ``(path in the value, type name, reason)`` of each object that needs pickle (those in
        the pickle section, for ``"pickled"``); as
        :func:`mle_runtime.format.values.describe_problems`.
    error : str or None
        Why the file was not converted (``"failed"``, ``"skipped"``).
    size_before, size_after : int or None
        Sizes in bytes of the source and of the .mle file written (None when not written).
    """

    __slots__ = ("source", "destination", "status", "problems", "error", "size_before",
                 "size_after")

    def __init__(self, source, destination, status=FAILED, problems=(), error=None,
                 size_before=None, size_after=None):
        self.source = source
        self.destination = destination
        self.status = status
        self.problems = list(problems)
        self.error = error
        self.size_before = size_before
        self.size_after = size_after

    @property
    def ok(self):
        """True when the .mle file was written and verified."""
        return self.status in (CONVERTED, PICKLED)

    def __repr__(self):
        extra = f", error={self.error!r}" if self.error else ""
        if self.problems:
            extra += f", problems={len(self.problems)}"
        return (f"FileResult({self.source!r} -> {self.destination!r}, {self.status}, "
                f"{self.size_before} -> {self.size_after} bytes{extra})")


class MigrationReport(list):
    """The list of :class:`FileResult` of a :func:`migrate` call, in the order the files
    were converted (sorted by path). ``str(report)`` is a readable table with the counts."""

    def __init__(self, results=(), source=None, destination=None, patterns=DEFAULT_PATTERNS):
        super().__init__(results)
        self.source = source
        self.destination = destination
        self.patterns = tuple(patterns)

    def _with(self, status):
        return [r for r in self if r.status == status]

    @property
    def converted(self):
        """Results stored natively."""
        return self._with(CONVERTED)

    @property
    def pickled(self):
        """Results converted with a pickle section."""
        return self._with(PICKLED)

    @property
    def needs_pickle(self):
        """Results not converted because parts of them need pickle."""
        return self._with(NEEDS_PICKLE)

    @property
    def failed(self):
        """Results not converted because of an error."""
        return self._with(FAILED)

    @property
    def skipped(self):
        """Results not converted because the destination exists."""
        return self._with(SKIPPED)

    @property
    def ok(self):
        """True when every file was converted (natively or with a pickle section)."""
        return all(r.ok for r in self)

    def counts(self):
        """``{status: number of files}`` for every status."""
        out = dict.fromkeys(STATUSES, 0)
        for r in self:
            out[r.status] += 1
        return out

    def summary(self):
        """The one-line counts."""
        c = self.counts()
        n = len(self)
        return (f"{n} file{'s' if n != 1 else ''}: {c[CONVERTED]} converted natively, "
                f"{c[PICKLED]} converted with a pickle section, {c[NEEDS_PICKLE]} need "
                f"pickle, {c[FAILED]} failed, {c[SKIPPED]} skipped")

    def __str__(self):
        if not self:
            where = f" under {self.source}" if self.source else ""
            return f"no files matching {', '.join(self.patterns)}{where}"
        rows = [("source", "status", "before", "after", "destination / details")]
        notes = []
        for r in self:
            if r.ok:
                detail = self._rel(r.destination, self.destination)
            elif r.error:
                detail = _first_line(r.error, 160)
            else:
                detail = f"{len(r.problems)} object(s) need pickle:"
            rows.append((self._rel(r.source, self.source), _LABELS[r.status],
                         _size(r.size_before), _size(r.size_after), detail))
            notes.append([f"    {p} ({t}): {_short_reason(why)}" for p, t, why in r.problems])
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        lines = []
        for i, row in enumerate(rows):
            lines.append(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  "
                         f"{row[2]:>{widths[2]}}  {row[3]:>{widths[3]}}  {row[4]}".rstrip())
            if i:
                lines.extend(notes[i - 1])
        lines.append(self.summary())
        return "\n".join(lines)

    def __repr__(self):
        return f"<MigrationReport {self.summary()}>"

    @staticmethod
    def _rel(path, root):
        if root is None or path is None:
            return str(path)
        if os.path.isfile(root):
            return path
        rel = os.path.relpath(path, root)
        return path if rel.startswith(os.pardir) else rel


def _size(n):
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"  # pragma: no cover


def _first_line(text, limit):
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    return line if len(line) <= limit else line[:limit - 3] + "..."


def _short_reason(reason):
    """The reason without the list of supported models that some reasons end with."""
    reason = _first_line(reason, 10 ** 6)
    cut = reason.find(". Supported:")
    if cut >= 0:
        reason = reason[:cut + 1]
    return _first_line(reason, 200)


def migrate(source, destination=None, *, trust=False, allow_pickle=False, recursive=True,
            patterns=DEFAULT_PATTERNS, overwrite=False, compress=0):
    """Converts joblib/pickle files to .mle files.

    Parameters
    ----------
    source : str or os.PathLike
        A joblib/pickle file (converted whatever its name), or a directory: every file in it
        (and, with ``recursive``, in its subdirectories) whose name matches one of
        ``patterns``.
    destination : str or os.PathLike, optional
        For a directory: the directory receiving the .mle files, with the same relative
        layout (created as needed); by default each .mle file is written next to its source.
        For a file: the .mle file to write, or an existing directory to write it into;
        by default next to the source. The name is the source's with its last suffix
        replaced by ``.mle`` (``rf.joblib`` -> ``rf.mle``).
    trust : bool, default False
        Must be True: the sources are unpickled (``joblib.load``), which executes whatever
        code they contain. Only for files from a trusted origin.
    allow_pickle : bool, default False
        Store the objects mle_runtime cannot represent natively in a pickle section (status
        ``"pickled"``); loading such a file then needs ``mle_runtime.load(...,
        allow_pickle=True)``. By default such files are not converted (``"needs_pickle"``,
        with the path and type of every such object).
    recursive : bool, default True
        Descend into subdirectories (directory ``source`` only).
    patterns : sequence of str, default ("*.joblib", "*.pkl", "*.pickle", "*.jbl")
        Shell-style patterns of the file names to convert (case-insensitive).
    overwrite : bool, default False
        Replace existing .mle files (otherwise they are left alone: ``"skipped"``).
    compress : int, bool, str or tuple, default 0
        As :func:`mle_runtime.dump`'s (the default method is zstd).

    Returns
    -------
    MigrationReport
        A list of :class:`FileResult` (source, destination, status, problems, error, sizes);
        ``str(report)`` is a table, ``report.ok`` is True when every file was converted.

    Raises
    ------
    PickleNotAllowedError
        ``trust`` is not True.
    FileNotFoundError
        ``source`` does not exist.
    ValueError
        ``compress`` is invalid, or ``destination`` is a file while ``source`` is a
        directory.

    Notes
    -----
    Each file is converted in memory, loaded back with :func:`mle_runtime.load` and compared
    with the original value (containers element by element, arrays bit for bit, models by
    class and number of features, pickled objects by type) before the .mle file is written
    atomically: a file that fails at any step leaves nothing behind, and an existing
    destination is never damaged. One file's failure does not stop the others.
    """
    if trust is not True:
        raise PickleNotAllowedError(
            "migrate() loads the joblib/pickle files with joblib.load, and unpickling runs "
            "whatever code a file contains: a malicious file can take over this process. "
            "Pass trust=True (mle-export --trust) only for files from a trusted origin; the "
            ".mle files written are safe to load (they hold no code, unless allow_pickle=True "
            "put a pickle section in them).")
    compression.normalize(compress)  # a bad value fails now, not once per file
    if isinstance(patterns, str):
        patterns = (patterns,)
    patterns = tuple(patterns)
    src = os.fspath(source)
    dst = os.fspath(destination) if destination is not None else None
    if os.path.isdir(src):
        root_out = dst if dst is not None else src
        if os.path.exists(root_out) and not os.path.isdir(root_out):
            raise ValueError(f"the destination {root_out} is a file; converting the directory "
                             f"{src} needs a destination directory")
        jobs = [(s, os.path.join(root_out, os.path.splitext(os.path.relpath(s, src))[0] +
                                 ".mle"))
                for s in _find(src, patterns, recursive, root_out)]
        report_src, report_dst = src, root_out
    elif os.path.exists(src):
        base = os.path.splitext(os.path.basename(src))[0] + ".mle"
        if dst is None:
            out = os.path.join(os.path.dirname(src), base)
        elif os.path.isdir(dst):
            out = os.path.join(dst, base)
        else:
            out = dst
        jobs = [(src, out)]
        report_src, report_dst = os.path.dirname(src) or os.curdir, \
            os.path.dirname(out) or os.curdir
    else:
        import errno

        raise FileNotFoundError(errno.ENOENT, "no such file or directory", src)
    report = MigrationReport(source=report_src, destination=report_dst, patterns=patterns)
    targets = {}
    for s, d in jobs:
        targets.setdefault(os.path.normcase(os.path.abspath(d)), []).append(s)
    for s, d in jobs:
        others = [o for o in targets[os.path.normcase(os.path.abspath(d))] if o != s]
        if others:
            report.append(FileResult(
                s, d, FAILED, size_before=_getsize(s),
                error=f"{', '.join(others)} would be written to the same {d}: rename one of "
                      "them (or convert them one at a time with explicit destinations)"))
            continue
        report.append(_convert(s, d, allow_pickle, overwrite, compress))
    return report


def _getsize(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return None


def _find(root, patterns, recursive, out_root):
    """The files under ``root`` whose names match ``patterns``, sorted; never descends into
    ``out_root`` when it is a subdirectory of ``root``."""
    pats = [p.lower() for p in patterns]
    skip = os.path.normcase(os.path.abspath(out_root))
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if recursive:
            dirnames[:] = sorted(d for d in dirnames
                                 if os.path.normcase(os.path.abspath(os.path.join(dirpath, d)))
                                 != skip)
        else:
            dirnames[:] = []
        for name in sorted(filenames):
            if any(fnmatch.fnmatchcase(name.lower(), p) for p in pats):
                path = os.path.join(dirpath, name)
                if os.path.isfile(path):
                    found.append(path)
    return sorted(found, key=lambda p: os.path.relpath(p, root).split(os.sep))


def _convert(src, dst, allow_pickle, overwrite, compress):
    res = FileResult(src, dst, size_before=_getsize(src))
    if os.path.abspath(src) == os.path.abspath(dst):
        res.error = "the destination is the source file itself; give another destination"
        return res
    if os.path.lexists(dst) and not overwrite:
        res.status = SKIPPED
        res.error = f"{dst} exists; pass overwrite=True (mle-export --overwrite) to replace it"
        return res
    try:
        with open(src, "rb") as f:
            head = f.read(len(L.MAGIC))
    except OSError as e:
        res.error = f"cannot read: {e.strerror or e}"
        return res
    if head == L.MAGIC:
        res.status = SKIPPED
        res.error = "already an .mle file: nothing to convert"
        return res
    try:
        value = pickle_fallback.load_trusted(src)
    except Exception as e:  # noqa: BLE001 - unpickling can raise anything
        res.error = f"cannot load: {type(e).__name__}: {e}"
        return res
    try:
        try:
            data = _dump_bytes(value, compress, False)
        except UnsupportedModelError as e:
            res.problems = values.describe_problems(value, hooks=value_hooks())
            if not res.problems:
                raise UnsupportedModelError(str(e)) from None
            if not allow_pickle:
                res.status = NEEDS_PICKLE
                return res
            data = _dump_bytes(value, compress, True)
    except Exception as e:  # noqa: BLE001 - exporters and pickling report many kinds
        res.error = f"cannot store: {type(e).__name__}: {e}"
        return res
    pickled = bool(res.problems)
    try:
        loaded = mle.load(io.BytesIO(data), allow_pickle=pickled, cache=False)
    except Exception as e:  # noqa: BLE001
        res.error = f"the converted value does not load back: {type(e).__name__}: {e}"
        return res
    mismatches = []
    _compare(value, loaded, "value", mismatches, 0)
    if mismatches:
        more = f" (and {len(mismatches) - 3} more)" if len(mismatches) > 3 else ""
        res.error = ("the converted value loads back different from the original: " +
                     "; ".join(mismatches[:3]) + more)
        return res
    try:
        parent = os.path.dirname(os.path.abspath(dst))
        os.makedirs(parent, exist_ok=True)
        writer.write_atomic(dst, data)
    except OSError as e:
        res.error = f"cannot write: {e.strerror or e}: {e.filename or dst}"
        return res
    res.status = PICKLED if pickled else CONVERTED
    res.size_after = len(data)
    return res


def _dump_bytes(value, compress, allow_pickle):
    buf = io.BytesIO()
    mle.dump(value, buf, compress=compress, allow_pickle=allow_pickle)
    return buf.getvalue()


# ------------------------------------------------------------------ verification ----------

_MAX_MISMATCHES = 20


def _compare(orig, got, path, out, depth):
    """Appends to ``out`` how ``got`` (loaded from the .mle bytes) differs from ``orig``."""
    if len(out) >= _MAX_MISMATCHES:
        return
    if depth > 400:
        out.append(f"{path}: nests too deeply to compare")
        return
    if isinstance(got, MLEModel) and not isinstance(orig, MLEModel):
        _compare_model(orig, got, path, out)
        return
    if type(got) is not type(orig):
        out.append(f"{path}: a {_tname(orig)} was stored, a {_tname(got)} loaded back")
        return
    t = type(orig)
    if orig is None or t in (bool, int, str, bytes, bytearray, complex, range):
        if orig != got:
            out.append(f"{path}: {_short(orig)} was stored, {_short(got)} loaded back")
    elif t is float:
        if not (orig == got or (orig != orig and got != got)):
            out.append(f"{path}: {orig!r} was stored, {got!r} loaded back")
    elif t in (list, tuple):
        if len(orig) != len(got):
            out.append(f"{path}: {len(orig)} items were stored, {len(got)} loaded back")
            return
        for i, (a, b) in enumerate(zip(orig, got)):
            _compare(a, b, f"{path}[{i}]", out, depth + 1)
    elif isinstance(orig, dict):
        ka, kb = list(orig), list(got)
        if len(ka) != len(kb):
            out.append(f"{path}: {len(ka)} keys were stored, {len(kb)} loaded back")
            return
        for i, (a, b) in enumerate(zip(ka, kb)):
            sub = []
            _compare(a, b, f"{path} (key {i})", sub, depth + 1)
            if sub:
                out.extend(sub)
                return
            _compare(orig[a], got[b], f"{path}[{a!r}]", out, depth + 1)
    elif t in (set, frozenset):
        if len(orig) != len(got):
            out.append(f"{path}: {len(orig)} elements were stored, {len(got)} loaded back")
        elif all(_plain(x) for x in orig) and orig != got:
            out.append(f"{path}: the elements differ")
    elif isinstance(orig, np.ndarray):
        _compare_array(orig, got, path, out, depth)
    elif isinstance(orig, np.generic):
        if orig.dtype != got.dtype or orig.tobytes() != got.tobytes():
            out.append(f"{path}: {orig!r} was stored, {got!r} loaded back")
    elif (t.__module__ or "").split(".")[0] == "pandas":
        _compare_pandas(orig, got, path, out)
    elif t.__module__ in ("datetime", "decimal", "collections", "zoneinfo", "pytz") or \
            (t.__module__ or "").startswith("pytz."):
        try:
            same = bool(orig == got)
        except Exception:  # noqa: BLE001
            same = True
        if not same and not (orig != orig and got != got):  # Decimal('NaN')
            out.append(f"{path}: {_short(orig)} was stored, {_short(got)} loaded back")
    # anything else came back from the pickle section: same type is all that can be checked


def _compare_model(orig, got, path, out):
    cls = got.metadata.get("model_class")
    name = type(orig).__name__
    if isinstance(cls, str) and cls.rsplit(".", 1)[-1] != name:
        out.append(f"{path}: a {name} was stored, a {cls} loaded back")
        return
    n = getattr(orig, "n_features_in_", None)
    if isinstance(n, int) and getattr(got, "n_features_in_", n) != n:
        out.append(f"{path}: the model takes {n} features, the loaded one "
                   f"{got.n_features_in_}")


def _compare_array(orig, got, path, out, depth):
    if orig.dtype != got.dtype or orig.shape != got.shape:
        out.append(f"{path}: an array of {orig.dtype} {orig.shape} was stored, "
                   f"{got.dtype} {got.shape} loaded back")
        return
    if orig.dtype.hasobject:
        for idx in np.ndindex(orig.shape):
            _compare(orig[idx], got[idx], f"{path}[{', '.join(map(str, idx))}]", out, depth + 1)
            if len(out) >= _MAX_MISMATCHES:
                return
        return
    if orig.size == 0 or orig.dtype.itemsize == 0:
        return
    a = np.ascontiguousarray(orig).reshape(-1).view(np.uint8)
    b = np.ascontiguousarray(got).reshape(-1).view(np.uint8)
    if not np.array_equal(a, b):
        out.append(f"{path}: the array's values differ")


def _compare_pandas(orig, got, path, out):
    """pandas objects: values (``equals``), dtypes, names, and index/columns with their
    names (which ``equals`` ignores)."""
    def same_labels(a, b):
        return bool(a.equals(b)) and list(a.names) == list(b.names) and a.dtype == b.dtype

    if orig is got:  # singletons: pd.NA, pd.NaT
        return
    try:
        same = bool(orig.equals(got)) if hasattr(orig, "equals") else bool(orig == got)
        if same and hasattr(orig, "dtypes"):
            d = orig.dtypes
            same = bool(d.equals(got.dtypes)) if hasattr(d, "equals") else d == got.dtypes
        if same and hasattr(orig, "dtype"):
            same = orig.dtype == got.dtype
        if same and hasattr(orig, "names"):
            same = list(orig.names) == list(got.names)
        if same and hasattr(orig, "name") and not callable(orig.name):
            same = _same_name(orig.name, got.name)
        for attr in ("index", "columns"):
            if same and hasattr(orig, attr) and hasattr(getattr(orig, attr), "equals"):
                same = same_labels(getattr(orig, attr), getattr(got, attr))
    except Exception as e:  # noqa: BLE001 - comparing exotic contents
        out.append(f"{path}: cannot compare the {_tname(orig)}: {type(e).__name__}: {e}")
        return
    if not same:
        out.append(f"{path}: the {_tname(orig)} loaded back differs")


def _same_name(a, b):
    try:
        return type(a) is type(b) and bool(a == b) or a is b or (a != a and b != b)
    except Exception:  # noqa: BLE001
        return False


def _plain(x):
    return x is None or type(x) in (bool, int, float, str, bytes, complex, tuple, frozenset)


def _tname(obj):
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _short(obj):
    r = repr(obj)
    return r if len(r) <= 60 else r[:57] + "..."
