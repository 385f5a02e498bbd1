"""Where a webhook may point: public http(s) addresses only, unless an admin allows private ones.

A URL is checked when it is registered (a clear message for the user) and again on every
delivery, where the connection is made to the very address that was checked: the host is
resolved once, each address vetted, and the socket opened to a vetted address (TLS still
checks the host's name). A name that resolves to a public address at registration and to
127.0.0.1 at delivery (DNS rebinding) is refused then.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpcore

__all__ = ["AddressRefused", "GuardedNetwork", "check_url", "refusal_of_address"]

_MAX_URL_CHARS = 2000


class AddressRefused(ValueError):
    """A webhook URL that may not be used; the message is for the user."""


def check_url(url: str) -> str:
    """The URL, trimmed, if its form is acceptable; raises AddressRefused saying why not."""
    url = url.strip()
    if not url:
        raise AddressRefused("Give the URL to send job ends to.")
    if len(url) > _MAX_URL_CHARS:
        raise AddressRefused(f"The URL is longer than {_MAX_URL_CHARS} characters.")
    if any(ord(character) < 0x21 or ord(character) == 0x7F for character in url):
        raise AddressRefused("The URL has spaces or control characters in it.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise AddressRefused("That is not a URL.") from exc
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("The URL must start with https:// (or http://).")
    if not parts.hostname:
        raise AddressRefused("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise AddressRefused("The URL may not carry a user name or password.")
    if parts.fragment:
        raise AddressRefused("The URL may not have a #fragment.")
    if port == 0:
        raise AddressRefused("The URL's port is not valid.")
    return url


def refusal_of_address(address: str) -> str | None:
    """Why a webhook may not be sent to this IP address, or None if it is public."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return f"{ip} is this server itself (loopback)."
    if ip.is_link_local:
        return f"{ip} is a link-local address (cloud metadata lives there)."
    if ip.is_private or ip.is_reserved or ip.is_multicast or ip.is_unspecified:
        return f"{ip} is a private or reserved network address."
    if not ip.is_global:
        return f"{ip} is not a public internet address."
    return None


async def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to (an IP literal is itself)."""
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        found = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise AddressRefused(f"{host} could not be found (DNS).") from exc
    return list(dict.fromkeys(str(entry[4][0]) for entry in found))


async def vetted_addresses(host: str, port: int, *, allow_private: bool) -> list[str]:
    """The addresses of `host` a webhook may reach; raises AddressRefused if none."""
    addresses = await resolve(host, port)
    if allow_private:
        return addresses
    refusals = [refusal_of_address(address) for address in addresses]
    if any(refusals):  # one private answer among public ones is a rebinding trick
        reason = next(refusal for refusal in refusals if refusal)
        raise AddressRefused(f"Webhooks may not reach {host}: {reason}")
    return addresses


class GuardedNetwork(httpcore.AsyncNetworkBackend):
    """httpcore's network, connecting only to addresses `vetted_addresses` lets through."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host,
        port,
        timeout=None,  # noqa: ASYNC109 (httpcore's own signature)
        local_address=None,
        socket_options=None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first vetted address of `host` that answers."""
        addresses = await vetted_addresses(host, port, allow_private=self.allow_private)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._network.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, *args, **kwargs):
        """Never: a webhook is a network address."""
        raise AddressRefused("Webhooks go over the network only.")

    async def sleep(self, seconds: float) -> None:
        """As httpcore's own network does."""
        await self._network.sleep(seconds)
