"""The address guard: a connection test never reaches the registry's own network.

The target's host is resolved here, every address it resolves to is checked, and the caller
connects to the checked address itself (psycopg ``hostaddr``, the HTTP network backend), so a
second DNS answer (rebinding) cannot send the connection elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from registry.connection.errors import ConnectionFailedError, TargetNotAllowedError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def forbidden(address: Address) -> bool:
    """True for an address tests may not reach: loopback, private, link-local, multicast,
    reserved, unspecified, or anything else that is not globally routable."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        return forbidden(mapped)
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_multicast or address.is_reserved or address.is_unspecified
            or not address.is_global)


def refuse_forbidden(host: str, addresses: list[Address]) -> None:
    """400 ``target-not-allowed`` when any address ``host`` resolved to is forbidden: one
    private address among public ones (a rebinding answer) refuses the whole host."""
    for address in addresses:
        if forbidden(address):
            raise TargetNotAllowedError(
                f"{host} resolves to {address}, an address the registry may not reach "
                "(private, loopback or reserved; see REGISTRY_ALLOW_PRIVATE_TARGETS)")


@dataclass(frozen=True)
class TargetGuard:
    """Resolves a host and answers the one address to connect to, or refuses it."""

    allow_private: bool = False

    def address(self, host: str, port: int) -> str:
        """The first address of ``host`` (see :meth:`addresses`)."""
        return self.addresses(host, port)[0]

    def addresses(self, host: str, port: int) -> list[str]:
        """Every address of ``host``, to connect to in order; 400 ``target-not-allowed``
        when any of them is forbidden (and private targets are not allowed), 502 when it
        does not resolve."""
        addresses = self.resolve(host, port)
        if not self.allow_private:
            refuse_forbidden(host, addresses)
        return [str(address) for address in addresses]

    @staticmethod
    def resolve(host: str, port: int) -> list[Address]:
        """Every address ``host`` resolves to (a literal address resolves to itself)."""
        try:
            infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as error:
            raise ConnectionFailedError(f"cannot resolve host {host}: {error}") from None
        found = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not found:
            raise ConnectionFailedError(f"cannot resolve host {host}")
        return list(dict.fromkeys(found))
