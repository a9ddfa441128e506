// The HTTP API as docs/openapi.json describes it: JWT bearer on every user route, one error shape, Retry-After.
import { API_URL } from "./config.js";

const TOKEN = "bankupdate.token";
const PENDING_REDIRECT = "bankupdate.redirect";

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const error = body && body.error;
    super(error ? error.message : (body && body.message) || `HTTP ${status}`);
    this.status = status;
    // API Gateway's own refusals (401/403) have only {"message"}; everything else has {"error": {...}}.
    this.code = error ? error.code : "GATEWAY_" + status;
    this.details = (error && error.details) || {};
    this.userMessage = this.details.userMessage || (status === 401 ? "Please sign in again." : this.message);
    this.retryAfter = retryAfter ? Number(retryAfter) : null;
  }
}

export const session = {
  token: () => sessionStorage.getItem(TOKEN),
  signOut: () => sessionStorage.removeItem(TOKEN),
  // Local stack only: a token of its JWT stand-in for the demo user. A deployed front end signs in at its issuer.
  async signInAsDemoUser() {
    const answer = await fetch("/_local/token", { method: "POST" });
    if (!answer.ok) throw new ApiError(answer.status, null, null);
    sessionStorage.setItem(TOKEN, (await answer.json()).token);
  },
};

// Where the bank's redirect comes back to, and which update waits for it (kept across the trip to the bank).
export const redirect = {
  returnUrl: () => new URL("/callback.html", location.origin).href,
  remember: (updateId) => sessionStorage.setItem(PENDING_REDIRECT, updateId),
  take() {
    const updateId = sessionStorage.getItem(PENDING_REDIRECT);
    sessionStorage.removeItem(PENDING_REDIRECT);
    return updateId;
  },
};

// Ids go into API paths only as what they are, encoded: `?update=..%2Fbank-connections%2F1` must never make the page
// call another route with the user's token.
const UPDATE_ID = /^[0-9a-f]{32}$/;
const CONNECTION_ID = /^[1-9][0-9]{0,18}$/;

export const isUpdateId = (id) => typeof id === "string" && UPDATE_ID.test(id);

// An id that is not one never reaches the API (nothing is sent).
export class NotAnId extends Error {
  constructor(what) {
    super(`That link does not name ${what}.`);
    this.userMessage = this.message;
  }
}

function segment(id, pattern, what) {
  const text = String(id);
  if (!pattern.test(text)) throw new NotAnId(what);
  return encodeURIComponent(text);
}
const connectionPath = (id) => `/v1/bank-connections/${segment(id, CONNECTION_ID, "a bank connection")}`;
const updatePath = (id) => `/v1/updates/${segment(id, UPDATE_ID, "an update")}`;

export const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

async function call(method, path, body, headers = {}) {
  const sent = { Authorization: `Bearer ${session.token()}`, ...headers };
  if (body !== undefined) sent["Content-Type"] = "application/json";
  const answer = await fetch(API_URL + path, {
    method,
    headers: sent,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const text = await answer.text();
  const parsed = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, parsed, answer.headers.get("Retry-After"));
  return parsed;
}

export const api = {
  connections: () => call("GET", "/v1/bank-connections"),
  connection: (id) => call("GET", connectionPath(id)),
  setSchedule: (id, enabled) => call("PUT", `${connectionPath(id)}/schedule`, { enabled }),
  // A fresh Idempotency-Key per tap: a retried request cannot start a second update.
  startUpdate: (id, options) =>
    call("POST", `${connectionPath(id)}/updates`, options, { "Idempotency-Key": crypto.randomUUID() }),
  // The return address goes with every update: the service passes it on only for banks that log users in on their
  // own website (finAPI refuses it for the others), so the app never needs to know which ones those are.
  startUpdateWithRedirect: (id, options) => api.startUpdate(id, { ...options, redirectUrl: redirect.returnUrl() }),
  update: (updateId) => call("GET", updatePath(updateId)),
  answer: (updateId, body) => call("POST", `${updatePath(updateId)}/authentication`, body),
};

// Bank data read live from finAPI through the service: a connection's accounts, and the transactions since a cursor
// (`query`: {cursor} | {since} | {fromUpdate}, and `limit`; none: from now on).
export const bankData = {
  accounts: (id) => call("GET", `/v1/bank-connections/${encodeURIComponent(id)}/accounts`),
  changes: (id, query = {}) => {
    const search = new URLSearchParams(Object.entries(query).filter(([, value]) => value !== undefined && value !== null));
    const suffix = search.toString() ? `?${search}` : "";
    return call("GET", `/v1/bank-connections/${encodeURIComponent(id)}/transactions/changes${suffix}`);
  },
};
