"""Bank data, read live from finAPI with the user's token: a connection's accounts, and the sync cursor's pages of
the transactions added (and removed) since a cursor (decisions D29, D30). The service itself keeps ids only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bankupdate.domain.errors import CursorExpired, InvalidRequest, NotFound
from bankupdate.domain.sync_cursor import MAX_PAGE, CursorKey, Item, Position, decode, encode, plan_page
from bankupdate.domain.transactions import BankTransaction, ConnectionAccounts, finapi_day, start_of_day
from bankupdate.ports import BankData, ChangeLog, Clock, ConnectionStore, CursorKeys
from bankupdate.settings import Settings


@dataclass(frozen=True)
class ChangesRequest:
    """At most one start: a cursor, a day (``since``: the changes from that day on), or an update (the changes from
    that update on). None: from now on."""

    owner_id: str
    connection_id: int
    cursor: str | None = None
    since: date | None = None
    from_update: str | None = None
    limit: int = 100


@dataclass(frozen=True)
class AddedTransaction:
    transaction: BankTransaction
    update_id: str  # the update whose look found it


@dataclass(frozen=True)
class ChangesPage:
    connection_id: int
    added: tuple[AddedTransaction, ...]
    removed: tuple[Item, ...]
    next_cursor: str
    has_more: bool


def _own_connection(connections: ConnectionStore, owner_id: str, connection_id: int) -> None:
    if connections.get(owner_id, connection_id) is None:
        raise NotFound(f"bank connection {connection_id} is not known for this user")


@dataclass
class ReadConnectionAccounts:
    connections: ConnectionStore
    bank_data: BankData

    def __call__(self, *, owner_id: str, connection_id: int) -> ConnectionAccounts:
        _own_connection(self.connections, owner_id, connection_id)
        return self.bank_data.accounts(owner_id, connection_id)


@dataclass
class ReadTransactionChanges:
    connections: ConnectionStore
    log: ChangeLog
    bank_data: BankData
    keys: CursorKeys
    clock: Clock
    settings: Settings

    def __call__(self, request: ChangesRequest) -> ChangesPage:
        owner, connection = request.owner_id, request.connection_id
        starts = [name for name in ("cursor", "since", "from_update") if getattr(request, name) is not None]
        if len(starts) > 1:
            raise InvalidRequest("give one of cursor, since and fromUpdate", details={"fields": starts})
        if not 1 <= request.limit <= MAX_PAGE:
            raise InvalidRequest(f"limit must be from 1 to {MAX_PAGE}", details={"field": "limit"})
        keys = self.keys.keys()
        position = self._start(request, keys)
        if request.cursor is None and request.since is None and request.from_update is None:
            # From now on: nothing to hand out yet (whatever a look writes meanwhile comes with the next read)
            return ChangesPage(
                connection, (), (), encode(position, connection_id=connection, owner_id=owner, key=keys[0]), False
            )
        # From the position's own entry on: if it is there, nothing after it has expired (entries expire in order)
        entries = self.log.entries_after(owner, connection, position.seq - 1, limit=request.limit + 2)
        if position.seq > 0:
            if not entries or entries[0].seq != position.seq:
                raise CursorExpired(f"the changes after position {position.seq} are no longer kept")
            entries = entries[1:]
        if entries and entries[0].seq != position.seq + 1:
            raise CursorExpired(f"the changes after position {position.seq} are no longer kept")
        if position.seq == 0 and not entries:
            state = self.log.state(owner, connection)
            if state is not None and state.head > 0:
                raise CursorExpired("the changes from the log's start are no longer kept")
        plan = plan_page(entries, position, request.limit, more_entries=len(entries) > request.limit)
        wanted = [item.transaction_id for item in plan.items if item.added]
        found = {t.transaction_id: t for t in self.bank_data.transactions(owner, wanted)} if wanted else {}
        # An added transaction finAPI no longer has is left out: the look that notices it is gone reports it removed.
        added = tuple(
            AddedTransaction(found[item.transaction_id], item.update_id)
            for item in plan.items
            if item.added and item.transaction_id in found
        )
        removed = tuple(item for item in plan.items if not item.added)
        cursor = encode(plan.next, connection_id=connection, owner_id=owner, key=keys[0])
        return ChangesPage(connection, added, removed, cursor, plan.has_more)

    def _start(self, request: ChangesRequest, keys: tuple[CursorKey, ...]) -> Position:
        owner, connection = request.owner_id, request.connection_id
        if request.cursor is not None:
            # Issued only for a connection of this user (checked then): the signature proves it again, no read needed
            return decode(request.cursor, connection_id=connection, owner_id=owner, keys=keys)
        if request.from_update is not None:
            # Kept in this user's own log, for this connection: finding it is the connection check
            start = self.log.position_of(owner, connection, request.from_update)
            if start is None:
                raise NotFound(f"no changes of update {request.from_update} are known for this connection")
            return Position(start)
        state = self.log.state(owner, connection)
        if state is None:  # a change log exists only for a connection of this user: without one, check the connection
            _own_connection(self.connections, owner, connection)
        if request.since is not None:
            today = finapi_day(self.clock.now())
            oldest = today - timedelta(days=self.settings.changes_retention_days - 1)
            if not oldest <= request.since <= today:
                raise InvalidRequest(
                    f"since must be a day from {oldest.isoformat()} to {today.isoformat()} (the changes kept)",
                    details={"field": "since"},
                )
            return Position(start_of_day(state, request.since))
        return Position(state.head if state else 0)
