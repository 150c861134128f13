"""Where the server may send hub callbacks: the SSRF guard, set by `--hub-callback-allow`."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from urllib.parse import urlsplit


class CallbackPolicy:
    """Where hub deliveries may go: the server POSTs to URLs its callers chose (SSRF guard).

    Always: an absolute `http`/`https` URL with a host and no user info. With an allow-list
    (`--hub-callback-allow`, repeatable), the host must also match one entry: an exact host
    name (`listener.sp.example`), a domain suffix (`*.sp.example`: any name below it) or an IP
    network (`203.0.113.0/24`, for IP literals). The check is on the URL as given; names are
    not resolved, so allow-list names you control.
    """

    def __init__(self, allow: Sequence[str] = ()) -> None:
        """Raises ValueError naming a malformed entry."""
        self.allow = tuple(allow)
        self._networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        self._hosts: set[str] = set()
        self._suffixes: list[str] = []
        for entry in self.allow:
            if "/" in entry:
                try:
                    self._networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError as exc:
                    raise ValueError(f"{entry!r} is not an IP network: {exc}") from exc
            elif entry.startswith("*.") and len(entry) > 2:
                self._suffixes.append(entry[1:].lower())
            elif entry and "*" not in entry:
                self._hosts.add(entry.lower().strip("[]"))
            else:
                raise ValueError(f"{entry!r} is not a host, *.domain or IP network")

    def problem(self, url: str) -> str | None:
        """Why `url` may not be a callback; None if it may."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return "must be an absolute http(s) URL"
        if parts.scheme not in ("http", "https") or not host:
            return "must be an absolute http(s) URL"
        if parts.username is not None or parts.password is not None:
            return "must not carry user info (use the `authorization` extension)"
        if not self.allow or host in self._hosts or any(host.endswith(s) for s in self._suffixes):
            return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None and any(address in n for n in self._networks):
            return None
        return f"the callback host {host!r} is not on this Partner's allow-list (--hub-callback-allow)"
