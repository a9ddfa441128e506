// One card per connection: its health, the schedule switch, and "Sync now".
import { api } from "./api.js";
import { accountsPanel } from "./bank_data.js";
import { checkbox, facts, h, when } from "./dom.js";

function outcome(connection) {
  if (connection.activeUpdateId) return h("span", { className: "badge" }, "Update running");
  if (connection.userActionRequired) return h("span", { className: "badge warn" }, "Needs you");
  if (connection.lastOutcome === "SUCCEEDED") return h("span", { className: "badge ok" }, "Up to date");
  if (connection.lastOutcome) return h("span", { className: "badge bad" }, connection.lastOutcome);
  return h("span", { className: "badge" }, "Not updated yet");
}

function budget(schedule) {
  const total = schedule.unattendedUsedToday + schedule.unattendedLeftToday;
  return `${schedule.unattendedLeftToday} of ${total} left today`;
}

export function connectionCard(connection, ui) {
  const id = connection.connectionId;
  const schedule = connection.schedule;
  const remedy = schedule.remedy || (connection.lastError && connection.lastError.userMessage);
  const scheduleSwitch = checkbox(`schedule-${id}`, "Background updates", { role: "switch", checked: schedule.enabled });
  scheduleSwitch.querySelector("input").addEventListener("change", async (event) => {
    const input = event.target;
    input.disabled = true;
    try {
      const updated = await api.setSchedule(id, input.checked);
      ui.replaceCard(updated);
      ui.notice(`Background updates ${updated.schedule.enabled ? "on" : "off"} for connection ${id}.`);
    } catch (error) {
      input.checked = !input.checked;
      input.disabled = false;
      ui.problem(error);
    }
  });
  const importNew = checkbox(`import-${id}`, "Also import new accounts");
  const sync = h("button", { type: "button", id: `sync-${id}`, "aria-label": `Sync now: connection ${id}` }, "Sync now");
  sync.addEventListener("click", () =>
    ui.startUpdate(id, { importNewAccounts: importNew.querySelector("input").checked }, sync),
  );
  const running = connection.activeUpdateId && h("button", { type: "button", id: `running-${id}`, className: "secondary" }, "Show the running update");
  if (running) running.addEventListener("click", () => ui.openUpdate(connection.activeUpdateId));
  return h(
    "li",
    { className: "card", id: `connection-${id}` },
    h("header", {}, h("h3", {}, `Connection ${id}`), outcome(connection)),
    facts([
      ["Last success", when(connection.lastSuccessAt)],
      ["Last attempt", connection.lastAttemptAt ? `${when(connection.lastAttemptAt)} (${connection.lastOutcome || "running"})` : "—"],
      ["Consent valid until", when(connection.consentExpiresAt)],
      ["Needs you", connection.userActionRequired ? "Yes: update it yourself once" : "No"],
      ["Background updates", schedule.enabled ? `On, next ${when(schedule.nextDueAt)}` : "Off"],
      ["Bank budget", budget(schedule)],
      schedule.lastSkipReason && ["Last skipped", `${when(schedule.lastSkipAt)} (${schedule.lastSkipReason})`],
      remedy && ["What to do", remedy],
    ]),
    accountsPanel(id),
    h("div", { className: "actions" }, running || sync, importNew, scheduleSwitch),
  );
}
