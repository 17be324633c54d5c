"""Zoo downloads: sha256-verified and atomic, tested against a local HTTP server only."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading

import pytest

import edge_sr
from edge_sr import zoo


@pytest.fixture
def local_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_local_zoo(monkeypatch, tmp_path):
    monkeypatch.delenv("EDGE_SR_ZOO", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("EDGE_SR_CACHE", str(cache))
    return cache


def test_download_into_cache_verifies_and_renames(zoo_dir, local_server, no_local_zoo, monkeypatch):
    served, url = local_server
    entry = zoo.entry("spanf")
    shutil.copy(zoo_dir / entry.filename, served / entry.filename)
    monkeypatch.setenv("EDGE_SR_ZOO_MIRROR", url)
    seen = []
    path = zoo.resolve("spanf", progress=lambda done, total: seen.append((done, total)))
    assert path == no_local_zoo / "zoo" / entry.filename
    assert path.read_bytes() == (zoo_dir / entry.filename).read_bytes()
    assert seen and seen[-1][0] == path.stat().st_size
    assert sorted(p.name for p in path.parent.iterdir()) == [entry.filename]
    # Second time: served from the cache (the server no longer has it).
    (served / entry.filename).unlink()
    assert edge_sr.load("spanf").zoo_name == "spanf"


def test_download_with_wrong_bytes_leaves_nothing(zoo_dir, local_server, no_local_zoo, monkeypatch):
    served, url = local_server
    entry = zoo.entry("efdn")
    data = bytearray((zoo_dir / entry.filename).read_bytes())
    data[1000] ^= 0xFF
    (served / entry.filename).write_bytes(bytes(data))
    monkeypatch.setenv("EDGE_SR_ZOO_MIRROR", url)
    with pytest.raises(edge_sr.DownloadError, match="sha256 mismatch"):
        zoo.resolve("efdn")
    folder = no_local_zoo / "zoo"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_download_failure_is_one_clear_error(local_server, no_local_zoo, monkeypatch):
    _, url = local_server
    monkeypatch.setenv("EDGE_SR_ZOO_MIRROR", url)
    with pytest.raises(edge_sr.DownloadError, match="download failed"):
        zoo.resolve("dsclora")
    assert not (no_local_zoo / "zoo").exists() or list((no_local_zoo / "zoo").iterdir()) == []


def test_local_zoo_file_with_wrong_hash_is_refused(zoo_dir, tmp_path, monkeypatch):
    fake = tmp_path / "zoo"
    fake.mkdir()
    (fake / zoo.entry("span-tiny").filename).write_bytes((zoo_dir / zoo.entry("dsclora").filename).read_bytes())
    monkeypatch.setenv("EDGE_SR_ZOO", str(fake))
    with pytest.raises(edge_sr.ZooError, match="sha256 mismatch for zoo model span-tiny"):
        zoo.resolve("span-tiny")


def test_every_zoo_entry_has_a_canonical_url_and_matches_the_manifest(zoo_dir):
    manifest = {}
    for line in (zoo_dir / "MANIFEST.tsv").read_text().splitlines()[1:]:
        fields = line.split("\t")
        manifest[fields[0]] = fields
    assert {e.filename for e in zoo.ZOO} == set(manifest)
    for entry in zoo.ZOO:
        filename, repo, path, commit, sha256 = manifest[entry.filename][:5]
        assert entry.sha256 == sha256
        assert entry.url == f"https://github.com/{repo}/raw/{commit}/{path}"
