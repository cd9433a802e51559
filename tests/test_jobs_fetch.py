"""The SSRF guard of remote inputs: private targets refused after resolution and after redirects;
an operator's allow-list opens them; downloads are capped in size."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from openlipsync.jobs.inputs.fetch import AllowList, FetchError, fetch

PAYLOAD = bytes(range(256)) * 1000


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.hits.append(self.path)
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("location", self.path.split("to=", 1)[1])
            self.end_headers()
            return
        if self.path == "/file.mp4":
            self.send_response(200)
            self.send_header("content-length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
            return
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def origin():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.hits = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def _get(url, tmp_path, allow=(), max_bytes=10**7):
    return fetch(url, tmp_path / "out", max_bytes=max_bytes, timeout_s=5, allow=AllowList(allow))


@pytest.mark.parametrize("url, kind", [
    ("http://127.0.0.1/x.mp4", "loopback"),
    ("http://localhost/x.mp4", "loopback"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://10.0.0.1/x.mp4", "private"),
    ("http://192.168.1.20:8080/x.mp4", "private"),
    ("http://172.16.5.4/x.mp4", "private"),
    ("http://[::1]/x.mp4", "loopback"),
    ("http://[::ffff:127.0.0.1]/x.mp4", "loopback"),
    ("http://0.0.0.0/x.mp4", "unspecified"),
    ("http://100.64.0.1/x.mp4", "carrier-grade NAT"),
])
def test_private_targets_are_refused(tmp_path, url, kind):
    with pytest.raises(FetchError, match=f"refusing to fetch .* a {kind} address"):
        _get(url, tmp_path)
    assert not (tmp_path / "out").exists()


def test_only_http_schemes(tmp_path):
    for url in ("file:///etc/passwd", "ftp://example.com/x.mp4", "gopher://127.0.0.1/"):
        with pytest.raises(FetchError, match="only http"):
            _get(url, tmp_path)


def test_allow_list_by_range_and_by_name(origin, tmp_path):
    port = origin.server_address[1]
    assert _get(f"http://127.0.0.1:{port}/file.mp4", tmp_path, ["127.0.0.0/8"]).read_bytes() == PAYLOAD
    assert _get(f"http://localhost:{port}/file.mp4", tmp_path, ["localhost"]).read_bytes() == PAYLOAD
    # The allowed name does not open other names on the same address.
    with pytest.raises(FetchError, match="refusing"):
        _get(f"http://127.0.0.1:{port}/file.mp4", tmp_path, ["localhost"])


def test_every_redirect_is_checked(origin, tmp_path):
    port = origin.server_address[1]
    origin.hits.clear()
    with pytest.raises(FetchError, match="refusing to fetch 'http://10.1.2.3/x': .* private"):
        _get(f"http://127.0.0.1:{port}/redirect?to=http://10.1.2.3/x", tmp_path, ["127.0.0.1"])
    assert origin.hits == ["/redirect?to=http://10.1.2.3/x"]
    same_host = f"http://127.0.0.1:{port}/redirect?to=/file.mp4"
    assert _get(same_host, tmp_path, ["127.0.0.1"]).read_bytes() == PAYLOAD


def test_size_cap_and_http_errors(origin, tmp_path):
    port = origin.server_address[1]
    with pytest.raises(FetchError, match="limit") as caught:
        _get(f"http://127.0.0.1:{port}/file.mp4", tmp_path, ["127.0.0.1"], max_bytes=1000)
    assert caught.value.too_large
    with pytest.raises(FetchError, match="HTTP 404"):
        _get(f"http://127.0.0.1:{port}/missing.mp4", tmp_path, ["127.0.0.1"])


def test_unresolvable_host(tmp_path):
    with pytest.raises(FetchError, match="cannot resolve host"):
        _get("http://no-such-host.invalid/x.mp4", tmp_path)
