"""PSU metadata: tells the bank the user is present, so the call does not count against the 4-per-day limit.

Explicit ``PSU-*`` headers from the app win; otherwise the values come from the HTTP request itself, because the
caller of a user-present update is the user's own app.

Any IP address is passed on, IPv6 too: finAPI replaces a non-IPv4 ``PSU-IP-Address`` with its own IPv4 address
(finAPI Access V2 documentation, "User metadata"), and the call still counts as user-present. Dropping the address
would make a user on an IPv6 network (most mobile networks) look absent. Should finAPI refuse it after all (its V1
spec allows only IPv4), the update goes on without it, counted as unattended (``finapi/client.py``).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

from bankupdate.domain.errors import InvalidRequest

MAX_HEADER_LENGTH = 255
UNKNOWN = "unknown"

_OS_MARKERS = (
    ("iphone", "iOS"),
    ("ipad", "iPadOS"),
    ("android", "Android"),
    ("windows", "Windows"),
    ("mac os", "macOS"),
    ("macintosh", "macOS"),
    ("cros", "ChromeOS"),
    ("linux", "Linux"),
)


class PsuContext(BaseModel):
    model_config = ConfigDict(frozen=True)

    ip_address: str | None
    device_os: str
    user_agent: str


def ip_or_none(value: str | None) -> str | None:
    """The address in its canonical text, an IPv4-mapped IPv6 address as the IPv4 one it carries; None if not an IP."""
    if not value:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _device_os_from(user_agent: str) -> str:
    lowered = user_agent.lower()
    return next((name for marker, name in _OS_MARKERS if marker in lowered), UNKNOWN)


def _explicit(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name.lower())
    if value is None:
        return None
    value = value.strip()
    if not value or len(value) > MAX_HEADER_LENGTH or not value.isprintable():
        raise InvalidRequest(
            f"header {name} must be 1-{MAX_HEADER_LENGTH} printable characters",
            details={"field": name},
            user_message="The request carried an invalid device header.",
        )
    return value


def derive_psu(headers: Mapping[str, str], *, source_ip: str | None, request_user_agent: str | None) -> PsuContext:
    """``headers`` must have lower-case names (as API Gateway HTTP APIs deliver them)."""
    explicit_ip = _explicit(headers, "PSU-IP-Address")
    if explicit_ip is not None and ip_or_none(explicit_ip) is None:
        raise InvalidRequest(
            "header PSU-IP-Address must be an IP address (IPv4 or IPv6)",
            details={"field": "PSU-IP-Address"},
        )
    user_agent = _explicit(headers, "PSU-User-Agent") or (request_user_agent or "").strip()[:MAX_HEADER_LENGTH]
    device_os = _explicit(headers, "PSU-Device-OS") or _device_os_from(user_agent)
    return PsuContext(
        ip_address=ip_or_none(explicit_ip) or ip_or_none(source_ip),
        device_os=device_os,
        user_agent=user_agent if user_agent and user_agent.isprintable() else UNKNOWN,
    )
