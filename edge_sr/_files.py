"""Writing outputs so that a failure never leaves a partial file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from edge_sr.errors import EdgeSRError


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds."""
    target = Path(path)
    if target.is_dir():
        raise EdgeSRError(f"{target}: expected a file path to write, found a directory")
    if not target.parent.exists():
        raise EdgeSRError(f"{target}: cannot write: folder {target.parent} does not exist")
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        if temporary.exists():
            # mkstemp creates 0600; a finished output gets what any new file would (0666 less the umask).
            os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            temporary.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
