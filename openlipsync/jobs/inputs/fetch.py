"""Fetching remote inputs without becoming a proxy into the operator's network (SSRF guard).

Every hop is checked after DNS resolution: the host's addresses must all be public unless the
operator allows the host or its range. The connection then goes to the checked address (with
the original Host header and TLS server name), so a DNS answer that changes between the check
and the connect cannot redirect it. Redirects are followed by hand, each one checked again.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MAX_REDIRECTS = 5


class FetchError(Exception):
    """A fetch that was refused or failed; ``too_large`` marks a size-cap refusal."""

    def __init__(self, message: str, too_large: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_large = too_large


class AllowList:
    """Operator exceptions to the guard: host names and IP ranges (``OPENLIPSYNC_REMOTE_ALLOW``)."""

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.hosts: set[str] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in entries:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(entry.lower().rstrip("."))

    def allows(self, host: str, ip: IPAddress) -> bool:
        return host.lower().rstrip(".") in self.hosts or any(ip in net for net in self.networks)


#: IANA's special-purpose address registries (IPv4 and IPv6), by what each range is. None of them
#: is a place a user's media lives; the tunnelling and translation forms (6to4, Teredo, NAT64)
#: would carry an internal IPv4 address inside an IPv6 one, so they are refused whole.
SPECIAL_RANGES = sorted(((ipaddress.ip_network(net), kind) for net, kind in (
    ("0.0.0.0/8", "unspecified"), ("10.0.0.0/8", "private"), ("100.64.0.0/10", "carrier-grade NAT"),
    ("127.0.0.0/8", "loopback"), ("169.254.0.0/16", "link-local"), ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol"), ("192.0.2.0/24", "documentation"), ("192.31.196.0/24", "AS112"),
    ("192.52.193.0/24", "AMT"), ("192.88.99.0/24", "6to4 relay"), ("192.168.0.0/16", "private"),
    ("192.175.48.0/24", "AS112"), ("198.18.0.0/15", "benchmarking"), ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"), ("224.0.0.0/4", "multicast"), ("240.0.0.0/4", "reserved"),
    ("255.255.255.255/32", "broadcast"),
    ("::/128", "unspecified"), ("::1/128", "loopback"), ("::/96", "IPv4-compatible"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("64:ff9b::/96", "NAT64"), ("64:ff9b:1::/48", "NAT64"), ("100::/64", "discard"),
    ("100:0:0:1::/64", "dummy"), ("2001::/23", "IETF protocol"), ("2001::/32", "Teredo"),
    ("2001:2::/48", "benchmarking"), ("2001:10::/28", "ORCHID"), ("2001:20::/28", "ORCHID"),
    ("2001:db8::/32", "documentation"), ("2002::/16", "6to4"), ("2620:4f:8000::/48", "AS112"),
    ("3fff::/20", "documentation"), ("5f00::/16", "SRv6"), ("fc00::/7", "private"),
    ("fe80::/10", "link-local"), ("fec0::/10", "site-local"), ("ff00::/8", "multicast"),
)), key=lambda entry: -entry[0].prefixlen)


def _kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address (its most specific special-purpose range), or None."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _kind(ip.ipv4_mapped) or "IPv4-mapped"
    for network, kind in SPECIAL_RANGES:
        if ip.version == network.version and ip in network:
            return kind
    return None if ip.is_global else "non-public"


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve host {host!r}") from exc
    return list(dict.fromkeys(_address(info) for info in infos))


def _address(info: tuple) -> IPAddress:
    return ipaddress.ip_address(info[4][0].split("%")[0])


def refusal(host: str, ip: IPAddress, allow: AllowList, what: str) -> FetchError | None:
    """The error for connecting to ``ip`` (resolved from ``host``), or None when it may be reached.

    It names the kind of address and never the address itself: the user who sent the URL must
    not learn what an internal name resolves to.
    """
    kind = _kind(ip)
    if kind is None or allow.allows(host, ip):
        return None
    return FetchError(f"refusing to fetch {what}: {host} resolves to a {kind} address "
                      "(an operator can allow it with OPENLIPSYNC_REMOTE_ALLOW)")


@contextmanager
def guarded_resolution(allow: AllowList) -> Iterator[list[FetchError]]:
    """Check every host name resolved in the block, by any library (yt-dlp reads YouTube pages
    itself): a lookup that yields a non-public address fails like an unknown host, and the
    library connects to exactly the addresses checked, so a second DNS answer cannot slip in.
    Yields the refusals, for the error message. For one render process at a time (it replaces
    ``socket.getaddrinfo`` for the whole process while it runs)."""
    real, refused = socket.getaddrinfo, []

    def checked(host, port, *args, **kwargs):
        infos = real(host, port, *args, **kwargs)
        name = host.decode() if isinstance(host, bytes) else str(host)
        for info in infos:
            if (error := refusal(name, _address(info), allow, repr(name))) is not None:
                refused.append(error)
                raise socket.gaierror(socket.EAI_NONAME, error.message)
        return infos

    socket.getaddrinfo = checked
    try:
        yield refused
    finally:
        socket.getaddrinfo = real


def check_url(url: httpx.URL, allow: AllowList) -> IPAddress:
    """The address to connect to for ``url``; FetchError if the URL may not be fetched."""
    if url.scheme not in ("http", "https") or not url.host:
        raise FetchError(f"only http(s) URLs can be fetched, not {str(url)!r}")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = resolve(url.host, port)
    for ip in addresses:
        if (error := refusal(url.host, ip, allow, repr(str(url)))) is not None:
            raise error
    return addresses[0]


def _pinned(url: httpx.URL, ip: IPAddress) -> tuple[httpx.URL, dict[str, str], dict]:
    """``url`` aimed at the checked address, with what keeps the origin server's view intact."""
    host_header = url.host if url.port is None else f"{url.host}:{url.port}"
    extensions = {"sni_hostname": url.host} if url.scheme == "https" else {}
    return url.copy_with(host=str(ip)), {"host": host_header}, extensions


def fetch(url: str, dest: Path, *, max_bytes: int, timeout_s: float, allow: AllowList) -> Path:
    """Download ``url`` to ``dest`` through the guard, streaming, at most ``max_bytes``."""
    current = httpx.URL(url)
    deadline = time.monotonic() + timeout_s * 20
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            target, headers, extensions = _pinned(current, check_url(current, allow))
            request = client.build_request("GET", target, headers=headers, extensions=extensions)
            try:
                response = client.send(request, stream=True)
            except httpx.TimeoutException as exc:
                raise FetchError(f"cannot fetch {str(current)!r}: the server did not answer in time") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"cannot fetch {str(current)!r}: cannot connect to the server") from exc
            try:
                if response.is_redirect:
                    current = current.join(response.headers["location"])
                    continue
                if not response.is_success:
                    raise FetchError(f"fetching {str(current)!r} got HTTP {response.status_code}")
                _save(response, dest, max_bytes, deadline, str(current))
                return dest
            finally:
                response.close()
    raise FetchError(f"too many redirects fetching {url!r}")


def _save(response: httpx.Response, dest: Path, max_bytes: int, deadline: float, url: str) -> None:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"{url!r} is {int(declared)} bytes, more than the limit of {max_bytes}", True)
    size = 0
    try:
        with open(dest, "wb") as out:
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(f"{url!r} is larger than the limit of {max_bytes} bytes", True)
                if time.monotonic() > deadline:
                    raise FetchError(f"fetching {url!r} took too long")
                out.write(chunk)
    except httpx.HTTPError as exc:
        raise FetchError(f"cannot fetch {url!r}: the download broke off") from exc
