"""Which client a request came from, behind exactly the reverse proxies an operator trusts.

`SCRM_TRUSTED_PROXIES` is empty (the default: nothing in front is trusted, `X-Forwarded-For` is ignored), a hop
count (`1`: one reverse proxy appends to `X-Forwarded-For`; werkzeug's `ProxyFix`), or a comma-separated list of
networks (`10.0.0.0/8, 100.64.0.0/10`): walking `X-Forwarded-For` from the right, every address inside them is a
proxy and the first one outside is the client. What a client writes itself into the header is never believed
further than the configured proxies vouch for it.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable

from werkzeug.middleware.proxy_fix import ProxyFix

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse(value: str | None) -> int | tuple[Network, ...]:
    """`""` → 0 (trust none), `"2"` → 2 hops, `"10.0.0.0/8,fd00::/8"` → those networks. ValueError when neither."""
    value = (value or "").strip()
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    try:
        return networks(value, "SCRM_TRUSTED_PROXIES")
    except ValueError:
        raise ValueError(f"SCRM_TRUSTED_PROXIES must be a hop count or a list of networks, not {value!r}") from None


def networks(value: str | None, setting: str = "networks") -> tuple[Network, ...]:
    """Comma-separated networks (`10.0.0.0/8, ::1`) as ip_network objects; ValueError naming `setting`."""
    try:
        return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in (value or "").split(",")
                     if part.strip())
    except ValueError:
        raise ValueError(f"{setting} must be a comma-separated list of networks, not {value!r}") from None


def inside(address: str | None, nets: tuple[Network, ...]) -> bool:
    """Whether an address (IPv4-mapped IPv6 read as IPv4) lies in one of `nets`."""
    ip = _address(address or "")
    return ip is not None and any(ip.version == net.version and ip in net for net in nets)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    return ip.ipv4_mapped if ip.version == 6 and ip.ipv4_mapped else ip


class TrustedNetworks:
    """WSGI middleware: REMOTE_ADDR becomes the nearest address of `X-Forwarded-For` that is not a trusted proxy."""

    def __init__(self, app: Callable, networks: Iterable[Network]):
        self.app = app
        self.networks = tuple(networks)

    def _trusted(self, text: str) -> bool:
        return inside(text, self.networks)

    def client(self, remote: str, forwarded: str) -> str:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        current = remote
        while self._trusted(current) and hops:
            current = hops.pop()
        return current if _address(current) is not None else remote

    def __call__(self, environ, start_response):
        remote = environ.get("REMOTE_ADDR", "")
        forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded and self._trusted(remote):
            environ["werkzeug.proxy_fix.orig"] = {"REMOTE_ADDR": remote}
            environ["REMOTE_ADDR"] = self.client(remote, forwarded)
        return self.app(environ, start_response)


def wrap(wsgi_app: Callable, setting: str | None) -> Callable:
    """The app's WSGI callable behind the proxies `setting` trusts (unchanged when it trusts none)."""
    trusted = parse(setting)
    if trusted == 0:
        return wsgi_app
    if isinstance(trusted, int):
        return ProxyFix(wsgi_app, x_for=trusted, x_proto=0, x_host=0, x_port=0, x_prefix=0)
    return TrustedNetworks(wsgi_app, trusted)
