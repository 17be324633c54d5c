"""``edge-sr serve-demo``: a local static server for the web demo, with the headers threads need.

onnxruntime-web's WebAssembly threads need ``SharedArrayBuffer``, which browsers only grant to
cross-origin-isolated pages: every response carries ``Cross-Origin-Opener-Policy: same-origin``
and ``Cross-Origin-Embedder-Policy: require-corp`` (and ``Cross-Origin-Resource-Policy`` so the
page's own files may be embedded).
"""

from __future__ import annotations

import functools
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from edge_sr.errors import EdgeSRError

ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}
REQUIRED = ("index.html", "js/app.js", "vendor/ort", "models/manifest.json")


class _DemoHandler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".mjs": "text/javascript", ".js": "text/javascript", ".wasm": "application/wasm",
        ".json": "application/json", ".onnx": "application/octet-stream", ".npy": "application/octet-stream",
    }

    def end_headers(self) -> None:
        for name, value in ISOLATION_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        if self.server.verbose:  # type: ignore[attr-defined]
            super().log_message(format, *args)


def check_site(root: Path) -> None:
    missing = [name for name in REQUIRED if not (root / name).exists()]
    if missing:
        raise EdgeSRError(
            f"{root}: expected the web demo with its models ({', '.join(REQUIRED)}), found no {', '.join(missing)}; "
            "run `edge-sr bundle MODEL --app web` first"
        )


def make_server(root: str | Path, *, host: str = "127.0.0.1", port: int = 8000, verbose: bool = False) -> ThreadingHTTPServer:
    """A server for the site at ``root`` (not yet serving: call ``serve_forever``); port 0 picks a free one."""
    root = Path(root)
    check_site(root)
    try:
        server = ThreadingHTTPServer((host, port), functools.partial(_DemoHandler, directory=str(root)))
    except OSError as error:
        raise EdgeSRError(f"serve-demo: cannot listen on {host}:{port} ({error.strerror})") from None
    server.verbose = verbose  # type: ignore[attr-defined]
    server.daemon_threads = True
    return server
