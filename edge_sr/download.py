"""Downloading a file over HTTP(S) with sha256 verification, resume and an atomic rename."""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from pathlib import Path

from edge_sr.errors import DownloadError

CHUNK = 1 << 16
TIMEOUT_S = 60
PARTIAL_SUFFIX = ".part"


def _hash_prefix(path: Path) -> tuple["hashlib._Hash", int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
            size += len(block)
    return digest, size


def download_verified(
    url: str,
    destination: Path,
    *,
    sha256: str,
    size: int | None = None,
    resume: bool = False,
    progress=None,
) -> Path:
    """Fetch ``url`` into ``destination`` only if its bytes hash to ``sha256`` (and weigh ``size``).

    Bytes go to ``<destination>.part`` and are renamed into place once verified, so
    ``destination`` either does not exist or is complete and verified.  With ``resume`` a
    ``.part`` left by an interrupted download is continued with an HTTP Range request (started
    over when the server ignores it); without it, and on any verification failure, the ``.part``
    file is removed.  ``progress``, if given, is called with ``(bytes_so_far, total_or_None)``.
    """
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + PARTIAL_SUFFIX)
    if partial.exists() and not resume:
        partial.unlink()
    try:
        digest, received = _fetch(url, partial, size=size, progress=progress)
    except DownloadError:
        if not resume and partial.exists():
            partial.unlink()
        raise
    try:
        if size is not None and received != size:
            raise DownloadError(f"{url}: expected {size} bytes, received {received}; nothing was saved")
        found = digest.hexdigest()
        if found != sha256:
            raise DownloadError(f"{url}: sha256 mismatch: expected {sha256}, found {found}; nothing was saved")
        os.replace(partial, destination)
        return destination
    finally:
        if partial.exists():
            partial.unlink()


def _fetch(url: str, partial: Path, *, size: int | None, progress) -> tuple["hashlib._Hash", int]:
    """Append ``url``'s remaining bytes to ``partial``; returns the running hash and byte count."""
    digest, received = _hash_prefix(partial) if partial.exists() else (hashlib.sha256(), 0)
    request = urllib.request.Request(url, headers={"Range": f"bytes={received}-"} if received else {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            if received and response.status != 206:  # the server ignored the range: start over
                digest, received = hashlib.sha256(), 0
            length = response.headers.get("Content-Length")
            total = received + int(length) if length and length.isdigit() else size
            with open(partial, "ab" if received else "wb") as sink:
                while block := response.read(CHUNK):
                    sink.write(block)
                    digest.update(block)
                    received += len(block)
                    if progress is not None:
                        progress(received, total)
            if total is not None and received < total:
                raise DownloadError(f"{url}: connection closed after {received} of {total} bytes; retry to resume")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and received:  # nothing left to fetch: the partial file is whole
            return digest, received
        raise DownloadError(f"{url}: download failed (HTTP {exc.code} {exc.reason})") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise DownloadError(f"{url}: download failed ({reason})") from None
    return digest, received
