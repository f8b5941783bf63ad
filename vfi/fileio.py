"""Files: outputs are written beside their destination and renamed only on success; inputs are
identified by their SHA-256."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vfi.errors import VfiError


# Errors that mean the output cannot be written there (as opposed to a bug, or a failing input).
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


def raise_if_write_error(path: Path, exc: BaseException) -> None:
    """Raise the user-facing error for `exc`, raised while writing `path`, when it is one a user
    can act on (a full disk, a read-only or forbidden folder); the caller re-raises the others."""
    if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
        raise VfiError(f"{path}: cannot write it ({exc.strerror or os.strerror(exc.errno)})") from exc


def temporary_sibling(path: Path, suffix: str) -> Path:
    """A new empty file in `path`'s folder with the permissions a plain open() would give it:
    mkstemp's private 0600 would otherwise outlive the rename onto `path`."""
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise_if_write_error(path, exc)
        raise
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    os.close(fd)
    return Path(name)


@contextmanager
def replaced_on_success(path: str | os.PathLike, suffix: str = ".tmp", *, folder: bool = False) -> Iterator[Path]:
    """A temporary sibling of `path` to write (a folder to fill when `folder`), renamed onto
    `path` when the block succeeds and removed when it fails, so `path` is either its old content
    or the complete new one."""
    path = Path(path)
    tmp = temporary_sibling_folder(path) if folder else temporary_sibling(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        if folder:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise_if_write_error(path, exc)
        raise


def write_atomically(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` to `path` through a temporary sibling renamed on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_on_success(path) as tmp:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)
    return path


def temporary_sibling_folder(path: Path) -> Path:
    """A new empty folder in `path`'s parent, to be renamed onto `path` when complete, with the
    permissions a plain mkdir() would give it (mkdtemp's 0700 would otherwise outlive the rename)."""
    try:
        name = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise_if_write_error(path, exc)
        raise
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o777 & ~umask)
    return Path(name)


def sha256_of(path: str | Path) -> str:
    """The hex SHA-256 of the file at `path`, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
