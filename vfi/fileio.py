"""Outputs are written beside their destination and renamed only on success."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def temporary_sibling(path: Path, suffix: str) -> Path:
    """A new empty file in `path`'s folder with the permissions a plain open() would give it:
    mkstemp's private 0600 would otherwise outlive the rename onto `path`."""
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    os.close(fd)
    return Path(name)


def write_atomically(path: str | os.PathLike, data: bytes | str) -> Path:
    """Write `data` to `path` through a temporary sibling renamed on success, so `path` is either
    its old content or the complete new one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path, ".tmp")
    try:
        if isinstance(data, str):
            tmp.write_text(data)
        else:
            tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def temporary_sibling_folder(path: Path) -> Path:
    """A new empty folder in `path`'s parent, to be renamed onto `path` when complete, with the
    permissions a plain mkdir() would give it (mkdtemp's 0700 would otherwise outlive the rename)."""
    name = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o777 & ~umask)
    return Path(name)
