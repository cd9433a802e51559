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
    ("http://198.18.0.1/x.mp4", "benchmarking"),
    ("http://192.0.0.170/x.mp4", "IETF protocol"),
    ("http://192.88.99.1/x.mp4", "6to4 relay"),
    ("http://240.0.0.1/x.mp4", "reserved"),
    ("http://255.255.255.255/x.mp4", "broadcast"),
    ("http://224.0.0.1/x.mp4", "multicast"),
    ("http://[2002:7f00:1::]/x.mp4", "6to4"),  # 6to4 wrapping 127.0.0.1
    ("http://[fec0::1]/x.mp4", "site-local"),
    ("http://[fd00::1]/x.mp4", "private"),
    ("http://[fe80::1]/x.mp4", "link-local"),
    ("http://[64:ff9b::a00:1]/x.mp4", "NAT64"),  # NAT64 of 10.0.0.1
    ("http://[64:ff9b:1::a00:1]/x.mp4", "NAT64"),
    ("http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/x.mp4", "Teredo"),
    ("http://[2001:db8::1]/x.mp4", "documentation"),
    ("http://[::127.0.0.1]/x.mp4", "IPv4-compatible"),
    ("http://[100::1]/x.mp4", "discard"),
    ("http://[ff02::1]/x.mp4", "multicast"),
    ("http://[5f00::1]/x.mp4", "SRv6"),
])
def test_private_targets_are_refused(tmp_path, url, kind):
    with pytest.raises(FetchError, match=f"refusing to fetch .* a {kind} address"):
        _get(url, tmp_path)
    assert not (tmp_path / "out").exists()


def test_every_iana_special_purpose_range_is_refused():
    """Every range of IANA's special-purpose registries (as of 2025), first, middle and last address."""
    import ipaddress

    from openlipsync.jobs.inputs.fetch import _kind

    registries = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
                  "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24",
                  "192.88.99.0/24", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24",
                  "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32", "224.0.0.0/4",
                  "::1/128", "::/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
                  "100:0:0:1::/64", "2001::/23", "2001::/32", "2001:1::1/128", "2001:1::2/128",
                  "2001:1::3/128", "2001:2::/48", "2001:3::/32", "2001:4:112::/48", "2001:10::/28",
                  "2001:20::/28", "2001:30::/28", "2001:db8::/32", "2002::/16", "2620:4f:8000::/48",
                  "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8"]
    for entry in registries:
        network = ipaddress.ip_network(entry)
        for ip in (network[0], network[network.num_addresses // 2], network[-1]):
            assert _kind(ip) is not None, (entry, ip)
    for public in ("8.8.8.8", "1.1.1.1", "2a00:1450:4001:82b::200e", "2606:4700:4700::1111"):
        assert _kind(ipaddress.ip_address(public)) is None, public


def test_the_refusal_does_not_say_what_an_internal_name_resolves_to(tmp_path):
    with pytest.raises(FetchError) as caught:
        _get("http://localhost/x.mp4", tmp_path)
    assert "127.0.0.1" not in caught.value.message and "::1" not in caught.value.message


def test_the_connection_goes_to_the_address_that_was_checked(origin, tmp_path, monkeypatch):
    """DNS pinning: a name that answers a checked address first and an internal one after
    (DNS rebinding) is fetched from the first; it is resolved once, and the origin sees its name."""
    import socket

    port = origin.server_address[1]
    answers = iter(["127.0.0.1", "127.0.0.2"])
    lookups, real = [], socket.getaddrinfo

    def rebinding(host, *args, **kwargs):
        if host != "rebind.test":
            return real(host, *args, **kwargs)
        lookups.append(host)
        address = next(answers, "127.0.0.2")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    seen = []
    original = _Handler.do_GET

    def recording(self) -> None:
        seen.append(self.headers["host"])
        original(self)

    monkeypatch.setattr(_Handler, "do_GET", recording)
    # 127.0.0.1 is allowed, 127.0.0.2 is not: only the pinned first answer can succeed.
    assert _get(f"http://rebind.test:{port}/file.mp4", tmp_path, ["127.0.0.1/32"]).read_bytes() == PAYLOAD
    assert lookups == ["rebind.test"] and seen == [f"rebind.test:{port}"]


def test_every_name_a_library_resolves_is_checked(monkeypatch):
    """yt-dlp resolves the YouTube page's host itself; ``guarded_resolution`` checks each lookup."""
    import socket

    import httpx

    from openlipsync.jobs.inputs.fetch import guarded_resolution

    with guarded_resolution(AllowList()) as refused:
        with pytest.raises(socket.gaierror, match="a loopback address"):
            socket.getaddrinfo("localhost", 80)
        with pytest.raises(httpx.ConnectError):
            httpx.get("http://localhost:1/")
        assert len(refused) == 2
        assert "127.0.0.1" not in refused[0].message
    assert socket.getaddrinfo("localhost", 80)  # restored after the block
    with guarded_resolution(AllowList(["localhost"])) as refused:
        assert socket.getaddrinfo("localhost", 80) and not refused


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
