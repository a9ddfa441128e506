"""The sync cursor: a position in a connection's change log, signed for the user and the connection it was given for.

A cursor holds four numbers (format version, key id, connection, position) and a MAC; no bank data, no user id. The
MAC (HMAC-SHA256, 128 bits) covers the position, the connection and the user it was issued to, so an altered cursor,
a made-up one, one of another connection and one of another user all fail the check alike: 400, never anyone's data.
The key is the stack's own (decision D30); a cursor signed with the previous key still verifies after a rotation.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from bankupdate.domain.errors import InvalidCursor
from bankupdate.domain.transactions import ChangeEntry

_VERSION = 1
_LAYOUT = struct.Struct(">B4sQQI")  # version, key id, connection id, entries delivered, items of the next delivered
_MAC_BYTES = 16
_CONTEXT = b"bankupdate/changes-cursor/1\x00"
MAX_PAGE = 500  # finAPI reads at most 500 transactions per page: one page of ours is one finAPI call


@dataclass(frozen=True)
class CursorKey:
    """A signing key; ``key_id`` (derived from the key) says which key signed a cursor."""

    secret: bytes

    @property
    def key_id(self) -> bytes:
        return hashlib.sha256(b"key-id\x00" + self.secret).digest()[:4]


@dataclass(frozen=True, order=True)
class Position:
    """Everything up to entry ``seq`` is delivered, and the first ``offset`` items of entry ``seq + 1``."""

    seq: int
    offset: int = 0


def _mac(key: CursorKey, owner_id: str, payload: bytes) -> bytes:
    owner = owner_id.encode()
    message = _CONTEXT + struct.pack(">I", len(owner)) + owner + payload
    return hmac.new(key.secret, message, hashlib.sha256).digest()[:_MAC_BYTES]


def encode(position: Position, *, connection_id: int, owner_id: str, key: CursorKey) -> str:
    payload = _LAYOUT.pack(_VERSION, key.key_id, connection_id, position.seq, position.offset)
    return base64.urlsafe_b64encode(payload + _mac(key, owner_id, payload)).rstrip(b"=").decode()


def decode(token: str, *, connection_id: int, owner_id: str, keys: Sequence[CursorKey]) -> Position:
    """The position a cursor names, if this service issued it to ``owner_id`` for ``connection_id``."""
    invalid = InvalidCursor("the cursor was not issued by this service for this connection")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid from None
    # Only the one spelling encode() gives: base64 leaves spare bits in the last character that decoding ignores.
    if len(raw) != _LAYOUT.size + _MAC_BYTES or base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != token:
        raise invalid
    payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    version, key_id, connection, seq, offset = _LAYOUT.unpack(payload)
    key = next((k for k in keys if hmac.compare_digest(k.key_id, key_id)), None)
    if version != _VERSION or key is None or not hmac.compare_digest(_mac(key, owner_id, payload), mac):
        raise invalid
    if connection != connection_id:
        raise invalid
    return Position(seq, offset)


# ----------------------------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class Item:
    added: bool
    account_id: int
    transaction_id: int
    update_id: str


@dataclass(frozen=True)
class PagePlan:
    items: tuple[Item, ...]
    next: Position
    has_more: bool


def plan_page(entries: Sequence[ChangeEntry], start: Position, limit: int, *, more_entries: bool) -> PagePlan:
    """Up to ``limit`` items from ``start`` on. ``entries`` are the log's entries after ``start.seq``, in order and
    without a gap; ``more_entries``: the log holds entries after the last one given."""
    items: list[Item] = []
    position = start
    for entry in entries:
        size = entry.size
        skip = position.offset if entry.seq == position.seq + 1 else 0
        end = min(size, skip + limit - len(items))
        items += [_item(entry, n) for n in range(skip, end)]
        if end < size:
            return PagePlan(tuple(items), Position(entry.seq - 1, end), True)
        position = Position(entry.seq, 0)
        if len(items) >= limit:
            later = more_entries or entry is not entries[-1]
            return PagePlan(tuple(items), position, later)
    return PagePlan(tuple(items), position, more_entries)


def _item(entry: ChangeEntry, n: int) -> Item:
    """The ``n``-th item of an entry: its added ids, then its removed ones."""
    if n < len(entry.added):
        account, transaction = entry.added[n]
        return Item(True, account, transaction, entry.update_id)
    account, transaction = entry.removed[n - len(entry.added)]
    return Item(False, account, transaction, entry.update_id)
