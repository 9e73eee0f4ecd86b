"""The client a limit counts against: its user when signed in, else its IP address."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

Tier = Literal["anonymous", "signed_in", "staff"]


@dataclass(frozen=True)
class Client:
    """`key` names the client in counters and on history rows (`user:<pk>` or `ip:<address>`);
    `tier` picks its limits."""

    key: str
    tier: Tier


def client_ip(remote_addr: str, forwarded_for: str, *, trusted_proxies: int) -> str:
    """The client's address. With N trusted proxies in front, each appending the address it
    saw to X-Forwarded-For, the client is the Nth address from the right; with none (the
    default) the header is ignored: anyone can write it."""
    if trusted_proxies <= 0 or not forwarded_for.strip():
        return remote_addr or "unknown"
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    if not hops:
        return remote_addr or "unknown"
    return hops[-min(trusted_proxies, len(hops))]


def client_of(user: Any, *, remote_addr: str, forwarded_for: str = "") -> Client:
    """The client for a (possibly anonymous) user seen from `remote_addr`."""
    if user is not None and getattr(user, "is_authenticated", False):
        tier: Tier = "staff" if getattr(user, "is_staff", False) else "signed_in"
        return Client(key=f"user:{user.pk}", tier=tier)
    address = client_ip(remote_addr, forwarded_for, trusted_proxies=settings.TRUSTED_PROXY_COUNT)
    return Client(key=f"ip:{address}", tier="anonymous")


def client_of_request(request: Any) -> Client:
    """A Django (or DRF) request's client."""
    meta = request.META
    return client_of(
        getattr(request, "user", None),
        remote_addr=meta.get("REMOTE_ADDR", ""),
        forwarded_for=meta.get("HTTP_X_FORWARDED_FOR", ""),
    )


def client_of_scope(scope: dict[str, Any]) -> Client:
    """A WebSocket's client, from its ASGI scope (the user set by AuthMiddlewareStack)."""
    peer = scope.get("client") or ("", 0)
    return client_of(
        scope.get("user"),
        remote_addr=str(peer[0] or ""),
        forwarded_for=_header(scope.get("headers") or (), b"x-forwarded-for"),
    )


def _header(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> str:
    """One header's value; repeated headers joined as HTTP says (by commas)."""
    values = [value.decode("latin-1") for key, value in headers if key.lower() == name]
    return ", ".join(values)
