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
from collections.abc import Iterable
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


def _kind(ip: IPAddress) -> str | None:
    """Why ``ip`` is not a public address, or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _kind(ip.ipv4_mapped)
    for name in ("loopback", "link_local", "unspecified", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{name}"):
            return name.replace("_", "-")
    return None if ip.is_global else "non-public"


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchError(f"cannot resolve host {host!r}: {exc}") from exc
    return list(dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos))


def check_url(url: httpx.URL, allow: AllowList) -> IPAddress:
    """The address to connect to for ``url``; FetchError if the URL may not be fetched."""
    if url.scheme not in ("http", "https") or not url.host:
        raise FetchError(f"only http(s) URLs can be fetched, not {str(url)!r}")
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = resolve(url.host, port)
    for ip in addresses:
        kind = _kind(ip)
        if kind and not allow.allows(url.host, ip):
            raise FetchError(
                f"refusing to fetch {str(url)!r}: {url.host} resolves to {ip}, a {kind} address "
                "(an operator can allow it with OPENLIPSYNC_REMOTE_ALLOW)"
            )
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
            except httpx.HTTPError as exc:
                raise FetchError(f"cannot fetch {str(current)!r}: {exc}") from exc
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
        raise FetchError(f"cannot fetch {url!r}: {exc}") from exc
