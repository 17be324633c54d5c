"""DIV2K as a data source: layout, discovery, resumable verified downloads, calibration crops."""

from __future__ import annotations

import hashlib
import http.server
import io
import threading
import zipfile

import pytest
import torch

from edge_sr import div2k
from edge_sr.errors import DatasetError, DownloadError


def test_finds_the_real_test_lr_images(data_dir):
    images = div2k.lr_images(split="test", scale=4)
    assert len(images) == 100
    assert images[0].name == "0901x4.png" and images[-1].name == "1000x4.png"
    assert div2k.find_root() == data_dir / "div2k"
    with pytest.raises(DatasetError, match="valid x4"):
        div2k.lr_images(split="valid", scale=4)
    with pytest.raises(DatasetError, match="never published"):
        div2k.hr_dir(div2k.find_root(), "test")


def test_calibration_batches_are_deterministic(data_dir):
    images = div2k.lr_images()[:8]
    first = list(div2k.calibration_batches(images, count=10, crop=64, seed=3, batch_size=4))
    again = list(div2k.calibration_batches(images, count=10, crop=64, seed=3, batch_size=4))
    other = list(div2k.calibration_batches(images, count=10, crop=64, seed=4, batch_size=4))
    assert [b.shape for b in first] == [(4, 3, 64, 64), (4, 3, 64, 64), (2, 3, 64, 64)]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], other[0])
    assert 0.0 <= float(first[0].min()) and float(first[0].max()) <= 1.0
    assert torch.equal(torch.round(first[0] * 255) / 255, first[0])


def _detail(crops: torch.Tensor) -> torch.Tensor:
    pixels = crops * 255
    return (pixels.diff(dim=2).abs().mean(dim=(1, 2, 3)) + pixels.diff(dim=3).abs().mean(dim=(1, 2, 3)))


def test_detailed_calibration_crops_pick_the_sharpest_candidate(data_dir):
    images = div2k.lr_images()[:8]
    plain = next(div2k.calibration_batches(images, count=8, crop=64, seed=3, batch_size=8))
    detailed = next(div2k.calibration_batches(images, count=8, crop=64, seed=3, batch_size=8, candidates=16))
    again = next(div2k.calibration_batches(images, count=8, crop=64, seed=3, batch_size=8, candidates=16))
    assert torch.equal(detailed, again)
    # Same seed: the first image's first candidate is the plain crop, so the pick is at least as sharp.
    assert float(_detail(detailed)[0]) >= float(_detail(plain)[0])
    assert float(_detail(detailed).mean()) > 1.3 * float(_detail(plain).mean())
    with pytest.raises(DatasetError, match="candidates"):
        next(div2k.calibration_batches(images, count=8, crop=64, seed=3, candidates=0))


class _RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves one payload, honouring ``Range: bytes=N-``, and drops the first connection midway."""

    payload = b""
    calls: list[str] = []
    cut_first = True

    def do_GET(self):  # noqa: N802
        start = 0
        if self.headers.get("Range"):
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
        type(self).calls.append(self.headers.get("Range") or "full")
        body = self.payload[start:]
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if type(self).cut_first:
            type(self).cut_first = False
            self.wfile.write(body[: len(body) // 3])
            self.wfile.flush()
            self.connection.shutdown(2)
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_archive_download_resumes_verifies_and_unpacks(tmp_path, monkeypatch):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for index in (801, 802):
            bundle.writestr(f"DIV2K_valid_LR_bicubic/X3/{index:04d}x3.png", bytes(range(256)) * 2000)
    payload = buffer.getvalue()
    _RangeHandler.payload, _RangeHandler.calls, _RangeHandler.cut_first = payload, [], True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("EDGE_SR_DIV2K_MIRROR", f"http://127.0.0.1:{server.server_address[1]}")
    sha = hashlib.sha256(payload).hexdigest()
    try:
        with pytest.raises(DownloadError):
            div2k.download("DIV2K_valid_LR_bicubic_X3.zip", tmp_path, sha256=sha)
        partial = tmp_path / "DIV2K_valid_LR_bicubic_X3.zip.part"
        assert 0 < partial.stat().st_size < len(payload)  # kept for resuming
        div2k.download("DIV2K_valid_LR_bicubic_X3.zip", tmp_path, sha256=sha)
    finally:
        server.shutdown()
        server.server_close()
    assert _RangeHandler.calls[0] == "full" and _RangeHandler.calls[1].startswith("bytes=")
    assert not partial.exists()
    images = div2k.lr_images(split="valid", scale=3, root=tmp_path)
    assert [p.name for p in images] == ["0801x3.png", "0802x3.png"]


def test_download_refuses_without_a_checksum_and_on_a_wrong_one(tmp_path, monkeypatch):
    with pytest.raises(DownloadError, match="no published checksum"):
        div2k.download("DIV2K_test_LR_bicubic_X4.zip", tmp_path)
    assert div2k.ARCHIVES["DIV2K_valid_HR.zip"].sha256.startswith("20dd31fd")
    _RangeHandler.payload, _RangeHandler.calls, _RangeHandler.cut_first = b"not the archive", [], False
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RangeHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("EDGE_SR_DIV2K_MIRROR", f"http://127.0.0.1:{server.server_address[1]}")
    try:
        with pytest.raises(DownloadError, match="sha256 mismatch"):
            div2k.download("DIV2K_test_LR_bicubic_X4.zip", tmp_path, sha256="0" * 64)
    finally:
        server.shutdown()
        server.server_close()
    assert list(tmp_path.iterdir()) == []
