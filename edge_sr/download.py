"""Downloading a file over HTTP(S) with sha256 verification and an atomic rename."""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from edge_sr.errors import DownloadError

CHUNK = 1 << 16
TIMEOUT_S = 60


def download_verified(url: str, destination: Path, *, sha256: str, progress=None) -> Path:
    """Fetch ``url`` into ``destination`` only if its bytes hash to ``sha256``.

    The bytes go to a temporary file beside ``destination`` and are renamed into place after
    the hash matches, so ``destination`` either does not exist or is complete and verified;
    a failed or interrupted download leaves nothing behind.  ``progress``, if given, is called
    with ``(bytes_so_far, total_or_None)``.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=destination.name + ".", suffix=".part", dir=destination.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as sink:
            try:
                with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:
                    total = response.headers.get("Content-Length")
                    total = int(total) if total and total.isdigit() else None
                    received = 0
                    while block := response.read(CHUNK):
                        sink.write(block)
                        digest.update(block)
                        received += len(block)
                        if progress is not None:
                            progress(received, total)
            except (urllib.error.URLError, OSError, ValueError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise DownloadError(f"{url}: download failed ({reason})") from None
        found = digest.hexdigest()
        if found != sha256:
            raise DownloadError(
                f"{url}: sha256 mismatch: expected {sha256}, found {found}; nothing was saved"
            )
        os.replace(temporary, destination)
        return destination
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
