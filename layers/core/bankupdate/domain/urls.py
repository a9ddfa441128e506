"""Where the service lets a URL lead: the operator's allow-list of return addresses (the bank sends the user's
authorization code there) compared as browsers will read the URL, never as a string prefix; and which URLs from finAPI
(the bank's page, finAPI's web form) reach the user as links at all.

A URL is read into scheme, host, port and path segments the way a browser's URL parser ends up with them: the host
lowercased and IDNA-normalised (full-width and ideographic dots are dots, labels in A-labels), the default port
filled in, dot segments resolved (``%2e`` is a dot). Whatever could make a browser read it otherwise is refused
rather than guessed at: userinfo (``…@evil``), backslashes, control characters and spaces, percent-encoded slashes,
hosts that are not DNS names or canonical IP addresses, a trailing dot, and labels that IDNA would change beyond
their case (a soft hyphen, a full-width letter, ``ß``: on those the IDNA versions and browsers disagree).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from encodings import idna
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"https": 443, "http": 80}
# Label separators IDNA treats as dots (UTS 46 and RFC 3490 alike).
_DOTS = re.compile("[.\u3002\uff0e\uff61]")
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")
_NUMBER = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
# Anything a browser drops, rewrites or reads as a separator where this parser would not.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")
_ENCODED_SEPARATOR = re.compile(r"%2f|%5c", re.IGNORECASE)  # in a path, a server may read them as "/"
LOOPBACK_NAMES = frozenset({"localhost"})


def _ascii_label(label: str) -> str:
    """One label as an A-label. IDNA's mapping (nameprep) may change nothing but the case: what it would map away
    or replace (U+00AD, U+FF41, U+00DF ...) is where IDNA 2003, IDNA 2008 and the browsers' UTS 46 part ways."""
    if not label.isascii() and idna.nameprep(label) != label.lower():
        raise UnicodeError(f"the label {label!r} is not in its IDNA form")
    return idna.ToASCII(label).decode("ascii").lower()


def _ascii_host(host: str) -> str | None:
    """The host as a browser resolves it: a lowercase DNS name of A-labels, or a canonical IP address."""
    if ":" in host:  # an IPv6 literal (urlsplit has taken the brackets off)
        try:
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError:
            return None
    labels = _DOTS.split(host)  # a trailing dot leaves an empty label: refused (browsers keep it in the origin)
    try:
        ascii_labels = [_ascii_label(label) for label in labels]
    except UnicodeError:
        return None
    if not all(_LABEL.match(label) for label in ascii_labels):
        return None
    if _NUMBER.match(ascii_labels[-1]):
        # A browser reads a host ending in a number as an IPv4 address (127.1, 0x7f.0.0.1 ...): only the canonical
        # dotted quad is taken, so that what is compared is what the browser connects to.
        name = ".".join(ascii_labels)
        try:
            return name if str(ipaddress.IPv4Address(name)) == name else None
        except ValueError:
            return None
    return ".".join(ascii_labels)


def is_loopback(host: str) -> bool:
    """``host`` as `Place.host` writes it: localhost, 127.0.0.0/8 or [::1]."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Place:
    """Where a URL leads, as a browser reads it."""

    scheme: str
    host: str
    port: int
    segments: tuple[str, ...]
    query_or_fragment: bool

    @classmethod
    def of(cls, url: str) -> Place | None:
        """The place an http(s) URL leads to, or None when a browser could read it otherwise than we do."""
        if _UNSAFE.search(url):
            return None
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or "@" in parts.netloc or not parts.hostname:
            return None
        if _ENCODED_SEPARATOR.search(parts.path):
            return None
        host = _ascii_host(parts.hostname)
        if host is None:
            return None
        return cls(
            scheme=scheme,
            host=host,
            port=port if port is not None else _DEFAULT_PORTS[scheme],
            segments=_resolved(parts.path),
            query_or_fragment=bool(parts.query or parts.fragment or url.endswith(("?", "#"))),
        )

    def within(self, entry: Place) -> bool:
        """Same origin as ``entry``, and a path at or below ``entry``'s, segment by segment."""
        origin = (self.scheme, self.host, self.port) == (entry.scheme, entry.host, entry.port)
        return origin and self.segments[: len(entry.segments)] == entry.segments


def _resolved(path: str) -> tuple[str, ...]:
    """The path's segments after resolving ``.`` and ``..`` (also written ``%2e``), as RFC 3986 and browsers do."""
    segments: list[str] = []
    parts = path.split("/")[1:] if path.startswith("/") else [path] if path else []
    for index, segment in enumerate(parts):
        dots = segment.lower().replace("%2e", ".")
        last = index == len(parts) - 1
        if dots == "..":
            if segments:
                segments.pop()
            if last:
                segments.append("")
        elif dots == ".":
            if last:
                segments.append("")
        else:
            segments.append(segment)
    return tuple(segments)


@dataclass(frozen=True)
class RedirectAllowList:
    """The operator's return addresses (template parameter ``AllowedRedirectUrls``): each entry is an origin
    (``https://app.example.com``: any path there) or an origin and a path (``https://app.example.com/bank-return``:
    that path and the paths below it). A URL is allowed when it leads within one entry: same scheme, host and port,
    and the entry's path segments first. ``http`` entries are for loopback hosts only (the local stack)."""

    entries: tuple[str, ...]
    places: tuple[Place, ...]

    @classmethod
    def parse(cls, text: str) -> RedirectAllowList:
        """From the comma-separated parameter; raises ValueError naming an entry that cannot be one."""
        entries = tuple(entry.strip() for entry in text.split(",") if entry.strip())
        places = []
        for entry in entries:
            place = Place.of(entry)
            if place is None or place.query_or_fragment:
                raise ValueError(
                    f"AllowedRedirectUrls: {entry!r} is not an http(s) URL without user, query or fragment"
                )
            if place.scheme != "https" and not is_loopback(place.host):
                raise ValueError(f"AllowedRedirectUrls: {entry!r} must be https (http only on loopback, locally)")
            places.append(cls._without_trailing_slash(place))
        return cls(entries, tuple(places))

    @staticmethod
    def _without_trailing_slash(place: Place) -> Place:
        segments = place.segments[:-1] if place.segments[-1:] == ("",) else place.segments
        return Place(place.scheme, place.host, place.port, segments, False)

    def allows(self, url: str) -> bool:
        place = Place.of(url)
        return place is not None and any(place.within(entry) for entry in self.places)


@dataclass(frozen=True)
class LinkPolicy:
    """Which URLs finAPI hands us may reach the user as links (the bank's page of a redirect approach, finAPI's web
    form): ``https`` only. ``http`` only to a loopback host, and only when finAPI itself is reached over http on
    loopback: the local stack's sandbox, which serves plain http; no deployed finAPI is ever on loopback."""

    loopback_http: bool = False

    @classmethod
    def for_upstream(cls, base_url: str) -> LinkPolicy:
        place = Place.of(base_url)
        return cls(loopback_http=place is not None and place.scheme == "http" and is_loopback(place.host))

    def link(self, url: str | None) -> str | None:
        """``url`` when a browser may be sent there, else None (``javascript:``, ``data:``, plain ``http`` to the
        internet, userinfo, control characters ...)."""
        place = Place.of(url) if url else None
        if place is None:
            return None
        if place.scheme == "https" or (self.loopback_http and is_loopback(place.host)):
            return url
        return None
