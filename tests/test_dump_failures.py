"""``dump`` when writing fails: a full disk, a process killed between writing and renaming, a
read-only directory, a missing directory. Each leaves the previous file intact and no
temporary file behind (a killed writer cannot clean up: the next dump to the same path does),
and the error names the user's path. Also: models mapped from a path keep working when
``dump`` replaces the file under them."""

import errno
import fcntl
import os
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np
import pytest
from sklearn.preprocessing import StandardScaler

import mle_runtime as mle
from mle_runtime.format import writer

X = np.arange(12.0).reshape(3, 4)


def scaler(shift, n_features=4):
    rng = np.random.default_rng(int(shift))
    return StandardScaler().fit(rng.normal(shift, 1.0 + shift, size=(20, n_features)))


OLD, NEW = scaler(1), scaler(5)


@pytest.fixture
def previous(tmp_path):
    """A directory holding only model.mle (OLD): ``(path, its bytes)``."""
    path = tmp_path / "model.mle"
    mle.dump(OLD, path)
    return path, path.read_bytes()


def assert_untouched(path, old_bytes):
    assert path.read_bytes() == old_bytes
    np.testing.assert_array_equal(mle.load(path, cache=False).transform(X), OLD.transform(X))
    assert sorted(os.listdir(path.parent)) == [path.name], "a temporary file was left behind"


def run_child(code, timeout=120):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout)


# ------------------------------------------------------------------ the directory is missing

def test_missing_directory_is_named_not_the_temporary_file(tmp_path):
    path = tmp_path / "no" / "such" / "dir" / "model.mle"
    with pytest.raises(FileNotFoundError) as info:
        mle.dump(OLD, path)
    e = info.value
    assert e.errno == errno.ENOENT and e.filename == str(path)
    msg = str(e)
    assert str(path.parent) in msg and "does not exist" in msg and "makedirs" in msg
    assert ".tmp" not in msg and ".model.mle." not in msg
    assert not (tmp_path / "no").exists()


# ------------------------------------------------------------------ no space left on device

class HalfWriter:
    """A file object whose write stores half the bytes, then fails as a full disk does."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        self.f.write(bytes(data[:len(data) // 2]))
        self.f.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def test_disk_full_while_writing(previous, monkeypatch):
    path, old = previous
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, *a, **k: HalfWriter(real_fdopen(fd, *a, **k)))
    with pytest.raises(OSError) as info:
        mle.dump(NEW, path)
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert "previous file is unchanged" in str(info.value)
    assert_untouched(path, old)


def test_disk_full_at_fsync(previous, monkeypatch):
    """Network and copy-on-write file systems report a full disk when the data is flushed."""
    path, old = previous

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as info:
        mle.dump(NEW, path, compress=("zlib", 1))
    monkeypatch.undo()
    assert info.value.errno == errno.ENOSPC and str(path) in str(info.value)
    assert_untouched(path, old)


def test_file_size_limit_refuses_the_write_for_real(previous):
    """A real short write from the kernel: RLIMIT_FSIZE makes write() fail with EFBIG (with
    SIGXFSZ ignored) once the new file passes the limit, as a full disk would."""
    path, old = previous
    proc = run_child(f"""
        import errno, resource, signal
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        import mle_runtime as mle
        big = StandardScaler().fit(np.random.default_rng(0).normal(size=(5, 4000)))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
        try:
            mle.dump(big, {str(path)!r})
        except OSError as e:
            print("errno", e.errno, e.filename)
        else:
            print("written")
        """)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["errno", str(errno.EFBIG), str(path)], proc.stdout
    assert_untouched(path, old)


# ------------------------------------------------------------------ killed before the rename

def test_killed_between_write_and_rename(previous):
    path, old = previous
    proc = run_child(f"""
        import os, signal
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        import mle_runtime as mle
        os.replace = lambda src, dst: os.kill(os.getpid(), signal.SIGKILL)
        mle.dump(StandardScaler().fit(np.ones((3, 4)) * np.arange(3)[:, None]), {str(path)!r})
        """)
    assert proc.returncode == -9, (proc.returncode, proc.stderr)
    assert path.read_bytes() == old  # the previous file is intact
    # The killed writer's temporary file remains, recognisable by its name.
    temps = [n for n in os.listdir(path.parent) if n != path.name]
    assert len(temps) == 1 and temps[0].startswith(".model.mle.") and \
        temps[0].endswith(".tmp"), temps
    stale = path.parent / temps[0]
    # Young temporary files are never removed (their writer may not have locked them yet) ...
    mle.dump(OLD, path)
    assert stale.exists()
    # ... nor old ones that a live writer holds locked ...
    a_minute_ago = time.time() - 120
    os.utime(stale, (a_minute_ago, a_minute_ago))
    with open(stale, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        mle.dump(OLD, path)
        assert stale.exists()
    # ... but an unlocked one over a minute old is removed by the next dump to that path.
    unrelated = path.parent / ".other.mle.abcdefgh.tmp"  # another file's: not touched
    unrelated.write_bytes(b"x")
    os.utime(unrelated, (a_minute_ago, a_minute_ago))
    mle.dump(OLD, path)
    assert not stale.exists() and unrelated.exists()
    unrelated.unlink()
    assert sorted(os.listdir(path.parent)) == [path.name]
    np.testing.assert_array_equal(mle.load(path, cache=False).transform(X), OLD.transform(X))


def test_a_live_writer_holds_its_temporary_file_locked(tmp_path, monkeypatch):
    """What makes removing stale files safe: during the write, the temporary file is locked."""
    path = tmp_path / "model.mle"
    seen = []
    real_fsync = os.fsync

    def fsync(fd):
        real_fsync(fd)
        if seen:
            return  # the directory's fsync, after the rename
        temp = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
        fd2 = os.open(tmp_path / temp[0], os.O_RDONLY)
        try:
            fcntl.flock(fd2, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append("unlocked")
        except BlockingIOError:
            seen.append("locked")
        finally:
            os.close(fd2)

    monkeypatch.setattr(os, "fsync", fsync)
    mle.dump(OLD, path)
    assert seen[0] == "locked"


# ------------------------------------------------------------------ read-only directory

@pytest.mark.parametrize("code", [errno.EACCES, errno.EROFS])
def test_read_only_directory_simulated(previous, monkeypatch, code):
    """What a read-only directory (EACCES) or file system (EROFS) reports when the temporary
    file is created."""
    path, old = previous

    def mkstemp(*args, dir=None, prefix="", suffix="", **kw):
        raise OSError(code, os.strerror(code), os.path.join(dir, prefix + "XXXXXXXX" + suffix))

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    with pytest.raises(OSError) as info:
        mle.dump(NEW, path)
    monkeypatch.undo()
    e = info.value
    assert e.errno == code and e.filename == str(path)
    assert isinstance(e, PermissionError) == (code == errno.EACCES)
    assert str(path.parent) in str(e) and "XXXXXXXX" not in str(e)
    assert_untouched(path, old)


def test_read_only_directory_for_real():
    """A directory without write permission. Root ignores permissions, so as root the dump
    runs in a child that drops to an unprivileged user after importing what it needs."""
    top = tempfile.mkdtemp(prefix="mle-ro-")
    try:
        os.chmod(top, 0o755)
        path = os.path.join(top, "model.mle")
        mle.dump(OLD, path)
        old = open(path, "rb").read()
        os.chmod(top, 0o555)
        proc = run_child(f"""
            import os, tempfile
            import numpy as np
            from sklearn.preprocessing import StandardScaler
            import mle_runtime as mle
            new = StandardScaler().fit(np.arange(8.0).reshape(2, 4))
            warm = tempfile.mkdtemp()
            mle.dump(new, os.path.join(warm, "warm.mle"))  # every lazy import, while we can
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                mle.dump(new, {path!r})
            except PermissionError as e:
                print("EACCES", e.filename, "|", e)
            else:
                print("written")
            """)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"EACCES {path} |"), proc.stdout
        assert top in proc.stdout.split("|", 1)[1]
        assert open(path, "rb").read() == old
        assert os.listdir(top) == ["model.mle"]
    finally:
        os.chmod(top, 0o755)
        for name in os.listdir(top):
            os.unlink(os.path.join(top, name))
        os.rmdir(top)


# ------------------------------------------------------------------ replaced under a mapping

def test_mapped_model_survives_dump_over_its_path(tmp_path):
    """A model mapped from a path keeps predicting correctly while dump replaces that path
    with other models, larger and smaller (dump renames a new file over the old one, so the
    old mapping stays valid; an in-place overwrite would truncate it under the mapping:
    SIGBUS). In a child process, so that a regression fails the test, not pytest."""
    path = tmp_path / "model.mle"
    proc = run_child(f"""
        import numpy as np
        from sklearn.preprocessing import StandardScaler
        import mle_runtime as mle
        rng = np.random.default_rng(0)
        first = StandardScaler().fit(rng.normal(3, 2, size=(10, 6000)))
        X = rng.normal(size=(50, 6000))
        mle.dump(first, {str(path)!r})
        model = mle.load({str(path)!r}, cache=False)
        assert model.get_model_info()["memory_mapped"], "the test needs a mapped file"
        want = first.transform(X)
        for n in (10, 9000, 2):  # smaller, larger, tiny replacements
            other = StandardScaler().fit(rng.normal(size=(5, n)))
            mle.dump(other, {str(path)!r})
            np.testing.assert_allclose(model.transform(X), want, rtol=1e-15)
            again = mle.load({str(path)!r}, cache=False)
            assert again.n_features_in_ == n
        print("ok")
        """)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", (proc.returncode,
                                                                 proc.stderr[-2000:])
