// Bank data on the cards and the result page: the bank and its accounts (read live), what an update brought, and
// the transactions since the user last looked (the sync cursor, kept per connection in this browser).
import { ApiError, bankData } from "./api.js";
import { h } from "./dom.js";

const CURSOR = (connectionId) => `bankupdate.changes.${connectionId}`;
const MAX_PAGES = 20; // 20 pages of 100: a busy account after months without an update

export function money(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  try {
    return new Intl.NumberFormat("en-GB", { style: "currency", currency: currency || "EUR" }).format(amount);
  } catch {
    return `${amount.toFixed(2)} ${currency || ""}`.trim();
  }
}

function count(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function transactionList(id, transactions) {
  if (!transactions.length) return h("p", { className: "hint", id }, "Nothing to show: finAPI no longer has them.");
  const newestFirst = [...transactions].sort((a, b) => b.bankBookingDate.localeCompare(a.bankBookingDate));
  return h(
    "ul",
    { className: "transactions", id },
    newestFirst.map((t) =>
      h(
        "li",
        { id: `transaction-${t.transactionId}` },
        h("span", { className: "when" }, t.bankBookingDate),
        h("span", { className: "who" }, t.counterpartName || t.type || "—", t.futureBooked ? h("span", { className: "badge" }, "Pending") : null, t.adjustingEntry ? h("span", { className: "badge warn" }, "Adjustment") : null),
        h("span", { className: `amount${t.amount < 0 ? " out" : " in"}` }, money(t.amount, t.currency)),
        h("span", { className: "what muted" }, t.purpose || ""),
      ),
    ),
  );
}

// A button that shows (and hides) a list it loads the first time.
function expander(id, label, load) {
  const region = h("div", { id: `${id}-list`, hidden: true });
  const button = h("button", { type: "button", className: "link", id, "aria-expanded": "false", "aria-controls": `${id}-list` }, label);
  let loaded = false;
  button.addEventListener("click", async () => {
    const open = button.getAttribute("aria-expanded") !== "true";
    button.setAttribute("aria-expanded", String(open));
    region.hidden = !open;
    if (!open || loaded) return;
    region.replaceChildren(h("p", { className: "hint" }, "Loading…"));
    try {
      region.replaceChildren(await load());
      loaded = true;
    } catch (error) {
      region.replaceChildren(h("p", { className: "problem" }, error instanceof ApiError ? error.userMessage : "The list cannot be loaded."));
    }
  });
  return [button, region];
}

// Every page of changes from one start, until there are no more (or the pages are many).
async function allChanges(connectionId, query, keep = () => true) {
  const added = [];
  const removed = [];
  let page = await bankData.changes(connectionId, query);
  for (let n = 1; ; n += 1) {
    added.push(...page.added.filter(keep));
    removed.push(...page.removed.filter(keep));
    if (!page.hasMore || n >= MAX_PAGES) return { added, removed, nextCursor: page.nextCursor };
    page = await bankData.changes(connectionId, { cursor: page.nextCursor });
  }
}

// The card's bank and accounts, and what is new since this browser last marked them seen.
export function accountsPanel(connectionId) {
  const panel = h("div", { className: "bank-data", id: `bank-data-${connectionId}` }, h("p", { className: "hint" }, "Loading your accounts…"));
  fillAccounts(panel, connectionId);
  return panel;
}

async function fillAccounts(panel, connectionId) {
  let found;
  let news = { added: [], removed: [], nextCursor: null };
  try {
    found = await bankData.accounts(connectionId);
    news = await newSinceLastSeen(connectionId);
  } catch (error) {
    if (!found) {
      panel.replaceChildren(h("p", { className: "hint" }, error instanceof ApiError ? error.userMessage : "Your accounts cannot be loaded right now."));
      return;
    }
  }
  const rows = found.accounts.map((account) => {
    const mine = news.added.filter((t) => t.accountId === account.accountId);
    const id = `new-${connectionId}-${account.accountId}`;
    const newOnes = mine.length
      ? expander(id, count(mine.length, "new transaction", "new transactions"), async () => transactionList(`${id}-items`, mine))
      : [h("span", { className: "hint" }, "No new transactions")];
    return h(
      "li",
      { id: `account-now-${account.accountId}` },
      h("span", { className: "account-name" }, account.name || account.iban || `Account ${account.accountId}`),
      h("span", { className: "amount" }, money(account.balance, account.currency)),
      h("div", { className: "news" }, newOnes),
    );
  });
  const seen = h("button", { type: "button", className: "secondary", id: `seen-${connectionId}` }, "Mark all as seen");
  seen.addEventListener("click", () => {
    if (news.nextCursor) localStorage.setItem(CURSOR(connectionId), news.nextCursor);
    fillAccounts(panel, connectionId);
  });
  panel.replaceChildren(
    h("h4", { id: `bank-${connectionId}` }, found.bankName || "Your bank"),
    h("ul", { className: "accounts-now", "aria-labelledby": `bank-${connectionId}` }, rows),
    news.added.length || news.removed.length ? seen : null,
  );
}

// New since the user last marked them seen; the first time, from now on (the cursor of "now" is kept).
async function newSinceLastSeen(connectionId) {
  const cursor = localStorage.getItem(CURSOR(connectionId));
  if (!cursor) {
    const start = await bankData.changes(connectionId, {});
    localStorage.setItem(CURSOR(connectionId), start.nextCursor);
    return { added: [], removed: [], nextCursor: start.nextCursor };
  }
  try {
    return await allChanges(connectionId, { cursor });
  } catch (error) {
    // A cursor of another sign-in, or older than the service keeps: start from now again.
    if (error instanceof ApiError && (error.code === "INVALID_CURSOR" || error.code === "CURSOR_EXPIRED")) {
      localStorage.removeItem(CURSOR(connectionId));
      return newSinceLastSeen(connectionId);
    }
    throw error;
  }
}

// The result page: per account what the update brought, each count expandable to its transactions.
export function whatChanged(update) {
  const accounts = update.result.accounts;
  const known = accounts.filter((a) => a.importedTransactions !== null && a.importedTransactions !== undefined);
  const total = known.reduce((sum, a) => sum + a.importedTransactions, 0);
  const summary = known.length
    ? `This update brought ${count(total, "new transaction", "new transactions")}.`
    : "What this update brought is not known yet; the next update will show it.";
  let updateChanges = null; // loaded once for every account of the update
  const ofUpdate = async () => {
    updateChanges ||= allChanges(update.connectionId, { fromUpdate: update.updateId, limit: 100 }, (t) => t.updateId === update.updateId);
    return updateChanges;
  };
  const rows = accounts.flatMap((account) => {
    const id = `changes-${account.accountId}`;
    const imported = account.importedTransactions;
    // The list opens in a row of its own under the account's, across the whole table.
    const [news, list] =
      imported === null || imported === undefined
        ? [h("span", { className: "hint" }, "not known"), null]
        : imported === 0
          ? [h("span", { className: "hint" }, "No new transactions"), null]
          : expander(id, count(imported, "new transaction", "new transactions"), async () =>
              transactionList(`${id}-items`, (await ofUpdate()).added.filter((t) => t.accountId === account.accountId)),
            );
    const removed = account.removedTransactions ? h("span", { className: "hint" }, ` (${count(account.removedTransactions, "transaction", "transactions")} withdrawn by the bank)`) : null;
    const before = account.newAccount ? "new account" : money(account.balanceBefore, account.currency);
    return [
      h(
        "tr",
        { id: `changed-${account.accountId}` },
        h("td", {}, account.name || "—"),
        h("td", { className: "amount" }, before),
        h("td", { className: "amount" }, money(account.balanceAfter, account.currency)),
        h("td", {}, news, removed),
      ),
      list && h("tr", { className: "list-row" }, h("td", { colspan: 4 }, list)),
    ];
  });
  return h(
    "section",
    { className: "what-changed", "aria-labelledby": "what-changed-heading" },
    h("h3", { id: "what-changed-heading" }, "What changed"),
    h("p", { id: "changes-summary" }, summary),
    h(
      "table",
      { id: "changes" },
      h("caption", {}, "Balances and new transactions per account"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col", className: "amount" }, "Before"), h("th", { scope: "col", className: "amount" }, "After"), h("th", { scope: "col" }, "Transactions"))),
      h("tbody", {}, rows),
    ),
  );
}
