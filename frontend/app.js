// The reference front end: the signed-in user's connections, and one update at a time driven by the API's answers.
import { api, ApiError, isUpdateId, NotAnId, session } from "./api.js";
import { connectionCard } from "./connections.js";
import { h } from "./dom.js";
import { UpdateFlow } from "./update.js";

const $ = (id) => document.getElementById(id);

const ui = {
  notice(text) {
    $("notice").textContent = text;
  },
  clearProblem() {
    $("problem").replaceChildren();
  },
  problem(error) {
    if (error instanceof ApiError && error.status === 401) {
      session.signOut();
      return show();
    }
    // ApiError and NotAnId say what went wrong; anything else is the network.
    const message = error.userMessage || "The service cannot be reached. Please try again.";
    const parts = [h("p", {}, message)];
    if (error instanceof ApiError) {
      parts.push(h("p", { className: "muted" }, `Code: ${error.code}`));
      // 409 UPDATE_ALREADY_RUNNING names the running update: offer to follow it instead of starting another.
      if (error.code === "UPDATE_ALREADY_RUNNING" && error.details.updateId) {
        const running = h("button", { type: "button", id: "show-running", className: "secondary" }, "Show the running update");
        running.addEventListener("click", () => openUpdate(error.details.updateId));
        parts.push(h("p", {}, running));
      }
      if (error.retryAfter) parts.push(h("p", { className: "muted" }, `Try again in ${error.retryAfter} s.`));
    }
    $("problem").replaceChildren(...parts);
  },
  openUpdate: (updateId) => openUpdate(updateId),
  replaceCard(connection) {
    $(`connection-${connection.connectionId}`).replaceWith(connectionCard(connection, ui));
    $(`schedule-${connection.connectionId}`).focus();
  },
  async startUpdate(connectionId, options, button) {
    button.disabled = true;
    ui.clearProblem();
    try {
      const update = await api.startUpdateWithRedirect(connectionId, options);
      openView("update");
      flow.show(update);
    } catch (error) {
      button.disabled = false;
      ui.problem(error);
    }
  },
};

const flow = new UpdateFlow($("update-body"), $("update-heading"), ui);

function openView(name) {
  for (const view of ["sign-in", "connections", "update"]) $(view).hidden = view !== name;
}

function openUpdate(updateId) {
  ui.clearProblem();
  openView("update");
  flow.follow(updateId);
}

async function showConnections() {
  flow.stop();
  openView("connections");
  try {
    const { connections } = await api.connections();
    connections.sort((a, b) => a.connectionId - b.connectionId);
    $("connection-list").replaceChildren(...connections.map((connection) => connectionCard(connection, ui)));
    if (!connections.length) $("connection-list").append(h("li", {}, "No bank connections yet."));
  } catch (error) {
    ui.problem(error);
  }
}

function showSession() {
  if (!session.token()) return $("session").replaceChildren();
  const signOut = h("button", { type: "button", id: "sign-out" }, "Sign out");
  signOut.addEventListener("click", () => {
    session.signOut();
    show();
  });
  $("session").replaceChildren(signOut);
}

function show() {
  showSession();
  if (!session.token()) {
    flow.stop();
    openView("sign-in");
    return;
  }
  // Coming back from the bank's page (callback.html) or a bookmark: ?update=<id> opens that update, if it is one.
  const updateId = new URLSearchParams(location.search).get("update");
  if (updateId !== null) {
    history.replaceState(null, "", location.pathname);
    if (isUpdateId(updateId)) return openUpdate(updateId);
    showConnections();
    return ui.problem(new NotAnId("an update"));
  }
  showConnections();
}

$("sign-in-button").addEventListener("click", async () => {
  try {
    await session.signInAsDemoUser();
    ui.clearProblem();
    show();
    $("connections-heading").focus();
  } catch (error) {
    ui.problem(error);
  }
});
$("back").addEventListener("click", () => {
  ui.clearProblem();
  ui.notice("");
  showConnections();
});
show();
