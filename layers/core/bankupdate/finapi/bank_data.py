"""``BankData`` through finAPI Access: transactions by import day or by id, and a connection's accounts, read with
the user's token (Web Form 2.0 deployments read them the same way: the web form only runs the update)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from bankupdate.domain.errors import NotFound, UpstreamNotFound
from bankupdate.domain.transactions import BankTransaction, ConnectionAccounts
from bankupdate.finapi.client import MAX_PER_PAGE, FinapiClient, FinapiUser
from bankupdate.finapi.mapping import account_now, bank_transaction

# A search that pages on and on is not one finAPI answers: the 89 days of a connection's accounts fit in far fewer.
_MAX_PAGES = 200


class AccessBankData:
    def __init__(self, client: FinapiClient, principal: Callable[[str], FinapiUser]) -> None:
        self._client = client
        self._principal = principal

    def imported_since(self, owner_id: str, account_ids: Sequence[int], day: date) -> list[BankTransaction]:
        if not account_ids:
            return []
        user, found, page = self._principal(owner_id), [], 1
        while True:
            answer = self._client.transactions_page(user, page=page, account_ids=account_ids, min_import_date=day)
            found += [bank_transaction(t) for t in answer.transactions]
            if page >= answer.paging.page_count or not answer.transactions or page >= _MAX_PAGES:
                return found
            page += 1

    def transactions(self, owner_id: str, ids: Sequence[int]) -> list[BankTransaction]:
        user, found = self._principal(owner_id), []
        for start in range(0, len(ids), MAX_PER_PAGE):
            chunk = ids[start : start + MAX_PER_PAGE]
            answer = self._client.transactions_page(user, page=1, ids=chunk, per_page=MAX_PER_PAGE)
            found += [bank_transaction(t) for t in answer.transactions]
        return found

    def accounts(self, owner_id: str, connection_id: int) -> ConnectionAccounts:
        user = self._principal(owner_id)
        try:
            connection = self._client.get_bank_connection(user, connection_id)
        except UpstreamNotFound:
            raise NotFound(f"bank connection {connection_id} is not known for this user") from None
        accounts = self._client.accounts_of_connection(user, connection_id)
        return ConnectionAccounts(
            connection_id=connection.id,
            bank_name=(connection.bank or {}).get("name") or connection.name,
            accounts=tuple(account_now(a) for a in sorted(accounts, key=lambda a: a.id)),
        )
