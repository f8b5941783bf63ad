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
