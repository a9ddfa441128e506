// One update, rendered from the API's answer: `authentication.status` picks the screen, `answerField` is what it sends.
import { api, ApiError, redirect, sleep } from "./api.js";
import { whatChanged } from "./bank_data.js";
import { checkbox, clock, field, h, link } from "./dom.js";
import { flicker } from "./flicker.js";

const TERMINAL = new Set(["SUCCEEDED", "FAILED", "EXPIRED"]);
const STATUS = {
  PENDING: "Starting",
  IN_PROGRESS: "Downloading your data",
  AUTHENTICATION_REQUIRED: "Your bank needs you",
  SUCCEEDED: "Up to date",
  FAILED: "Failed",
  EXPIRED: "Expired",
};
// The API names the labels but not which are secret; a PIN or password is never shown as typed.
const SECRET_LABEL = /pin|passw|kennwort|secret/i;
const IMAGE_TYPE = /^image\/(png|jpeg|gif|webp|svg\+xml)$/;
const DECOUPLED = new Set(["DECOUPLED_AUTH_REQUIRED", "DECOUPLED_AUTH_IN_PROGRESS"]);
// Shown instead of a link to an address that is not a secure (https) one: nothing to click.
const NOT_A_LINK = "The address for this step is not a secure (https) link, so this page does not open it. Please try again later.";

function procedureHint(procedure) {
  if (procedure.challengeType === "PHOTO") return "scan a picture with your TAN app";
  if (procedure.challengeType === "FLICKER_CODE") return "hold your TAN generator to the screen";
  if (procedure.challengeType === "TEXT") return "a TAN by text message or app";
  return "confirm in your banking app";
}

function roundsLeft(rounds) {
  if (rounds === 0) return "This is the last authentication round this update allows.";
  return `This update allows ${rounds} more authentication ${rounds === 1 ? "round" : "rounds"}.`;
}

function accountsTable(update) {
  const rows = update.result.accounts.map((account) =>
    h(
      "tr",
      { className: account.newAccount ? "new-account" : "", id: `account-${account.accountId}` },
      h("td", {}, account.name || "—", account.newAccount ? [" ", h("span", { className: "badge new" }, "New")] : null),
      h("td", {}, account.iban || "—"),
      h("td", {}, account.accountType || "—"),
      h("td", {}, account.status),
      h("td", { className: "amount" }, account.balance === null ? "—" : account.balance.toFixed(2)),
    ),
  );
  return h(
    "table",
    { id: "accounts" },
    h("caption", {}, `Accounts of connection ${update.connectionId}`),
    h(
      "thead",
      {},
      h("tr", {}, ["Account", "IBAN", "Type", "Status"].map((title) => h("th", { scope: "col" }, title)), h("th", { scope: "col", className: "amount" }, "Balance")),
    ),
    h("tbody", {}, rows),
  );
}

export class UpdateFlow {
  constructor(body, heading, ui) {
    this.body = body;
    this.heading = heading;
    this.ui = ui;
    this.generation = 0; // every render and poll belongs to one; a newer render or leaving the view ends it
    this.cleanups = [];
    this.pace = 1; // seconds between decoupled checks, until a Retry-After says the API wants more
  }

  stop() {
    this.generation += 1;
    this.cleanups.forEach((cleanup) => cleanup());
    this.cleanups = [];
  }

  async follow(updateId) {
    this.stop();
    const generation = this.generation;
    try {
      const update = await api.update(updateId);
      if (generation === this.generation) this.show(update);
    } catch (error) {
      this.ui.problem(error);
    }
  }

  show(update) {
    this.stop();
    const generation = this.generation;
    this.update = update;
    this.heading.textContent = `Updating connection ${update.connectionId}`;
    this.body.replaceChildren(
      h("p", { id: "update-status" }, "Status: ", h("strong", {}, STATUS[update.status] || update.status)),
      ...this.render(update),
    );
    const first = this.body.querySelector("input:checked, input:not([type=hidden]), a.button");
    (first || this.heading).focus();
    const challenge = update.authentication && update.authentication.status;
    if (DECOUPLED.has(challenge)) this.checkDecoupled(generation);
    else if (!TERMINAL.has(update.status) && (update.status !== "AUTHENTICATION_REQUIRED" || challenge === "WEB_FORM_REQUIRED")) {
      this.watch(generation);
    }
  }

  render(update) {
    if (update.status === "AUTHENTICATION_REQUIRED") return this.challenge(update.authentication);
    if (update.status === "SUCCEEDED") {
      const added = update.result.accounts.filter((account) => account.newAccount).length;
      return [
        h("p", { id: "result-summary" }, `${update.result.accounts.length} accounts up to date`, added ? `, ${added} new.` : "."),
        accountsTable(update),
        whatChanged(update),
        update.result.categorizationStatus && h("p", { className: "hint" }, `Categorization: ${update.result.categorizationStatus}`),
      ];
    }
    if (TERMINAL.has(update.status)) {
      const error = update.error || { userMessage: "The update did not finish.", code: update.status };
      const again = h("button", { type: "button", id: "try-again" }, "Try again");
      again.addEventListener("click", () => this.ui.startUpdate(update.connectionId, {}, again));
      return [
        h(
          "div",
          { className: "problem", id: "failure", role: "alert" },
          h("p", {}, h("strong", {}, error.userMessage)),
          h("p", { className: "muted" }, `Code: ${error.code}`),
          error.actionUrl && h("p", {}, link(error.actionUrl, { id: "fix-it", rel: "noreferrer" }, "Fix it at finAPI", NOT_A_LINK)),
        ),
        h("p", {}, again),
      ];
    }
    return [
      h("p", {}, "Your bank is sending your data. This page updates by itself."),
      h("progress", { id: "working", "aria-label": "Update in progress" }),
      h("p", { className: "hint", id: "elapsed" }, ""),
    ];
  }

  challenge(auth) {
    const parts = [];
    if (auth.previousAnswerRejected) {
      // roundsLeft counts this update's rounds with the bank, not the bank's attempts: a bank may end the login at
      // its third wrong TAN whatever rounds are left. The bank's own message (below) is what is known.
      parts.push(
        h(
          "div",
          { className: "rejected", id: "rejected", role: "alert" },
          h("p", {}, h("strong", {}, "Your bank did not accept that answer.")),
          h("p", {}, "How many more attempts you have is up to your bank; its message is below."),
          h("p", { className: "hint", id: "rounds-left" }, roundsLeft(auth.roundsLeft)),
        ),
      );
    }
    if (auth.message) parts.push(h("p", { className: "bank-says", id: "bank-message" }, h("span", { className: "muted" }, "Your bank says: "), auth.message));
    const screen = {
      CREDENTIALS_REQUIRED: () => this.credentials(auth),
      TWO_STEP_PROCEDURE_REQUIRED: () => this.procedures(auth),
      CHALLENGE_RESPONSE_REQUIRED: () => this.tan(auth),
      DECOUPLED_AUTH_REQUIRED: () => this.decoupled(),
      DECOUPLED_AUTH_IN_PROGRESS: () => this.decoupled(),
      REDIRECT_REQUIRED: () => this.redirect(auth),
      WEB_FORM_REQUIRED: () => this.webForm(auth),
    }[auth.status];
    parts.push(...(screen ? screen() : [h("p", {}, `Your bank asks for something this page does not know: ${auth.status}.`)]));
    if (auth.expiresAt) parts.push(h("p", { className: "hint" }, `Please answer by ${clock(auth.expiresAt)}.`));
    return parts;
  }

  form(id, children, submitText, body) {
    const submit = h("button", { type: "submit", id: "submit" }, submitText);
    const form = h("form", { id, novalidate: true }, children, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send(body(form), submit);
    });
    return form;
  }

  credentials(auth) {
    const labels = auth.credentialLabels;
    return [
      this.form(
        "credentials-form",
        [
          h("p", {}, "Your bank needs your online banking login."),
          labels.map((label, index) =>
            field(`credential-${index}`, label, { type: SECRET_LABEL.test(label) ? "password" : "text", autocomplete: "off" }),
          ),
          checkbox("store-secrets", "Let finAPI keep my PIN for background updates"),
        ],
        "Log in",
        (form) => ({
          loginCredentials: labels.map((label, index) => ({ label, value: form.querySelector(`#credential-${index}`).value })),
          storeSecrets: form.querySelector("#store-secrets").checked,
        }),
      ),
    ];
  }

  procedures(auth) {
    const choices = auth.twoStepProcedures.map((procedure, index) =>
      h(
        "div",
        { className: "choice" },
        h("input", { type: "radio", name: "procedure", id: `procedure-${procedure.procedureId}`, value: procedure.procedureId, checked: index === 0 }),
        h("label", { for: `procedure-${procedure.procedureId}` }, procedure.procedureName, " ", h("span", { className: "hint" }, `(${procedureHint(procedure)})`)),
      ),
    );
    return [
      this.form("procedure-form", [h("fieldset", {}, h("legend", {}, "How do you want to confirm?"), choices)], "Continue", (form) => ({
        twoStepProcedureId: form.querySelector("input[name=procedure]:checked").value,
      })),
    ];
  }

  tan(auth) {
    const shown = [];
    if (auth.photoTanData && IMAGE_TYPE.test(auth.photoTanMimeType || "")) {
      shown.push(
        h("img", { className: "photo-tan", id: "photo-tan", src: `data:${auth.photoTanMimeType};base64,${auth.photoTanData}`, alt: "photoTAN picture: scan it with your bank's app" }),
      );
    }
    if (auth.opticalData) {
      const code = flicker(auth.opticalData);
      this.cleanups.push(code.stop);
      shown.push(code);
    }
    return [
      ...shown,
      this.form(
        "tan-form",
        [field("tan", auth.answerFieldLabel || "TAN", { autocomplete: "one-time-code", inputmode: "numeric" })],
        "Send TAN",
        (form) => ({ challengeResponse: form.querySelector("#tan").value.trim() }),
      ),
    ];
  }

  decoupled() {
    return [
      h("p", {}, "Open your banking app and confirm there. This page checks with your bank by itself."),
      h("progress", { id: "decoupled-progress", max: 1, value: 0, "aria-label": "Time until the next check" }),
      h("p", { id: "decoupled-checks", role: "status" }, "Waiting for your confirmation…"),
    ];
  }

  redirect(auth) {
    const toBank = link(auth.redirectUrl, { className: "button", id: "to-bank", rel: "noreferrer" }, "Continue to your bank", NOT_A_LINK);
    if (toBank.tagName === "A") toBank.addEventListener("click", () => redirect.remember(this.update.updateId));
    return [h("p", {}, "Your bank asks you to log in on its own page. It sends you back here afterwards."), h("p", {}, toBank)];
  }

  webForm(auth) {
    const attributes = { className: "button", id: "web-form", target: "_blank", rel: "noopener noreferrer" };
    return [
      h("p", {}, "Your bank's questions are answered in finAPI's web form. This page notices by itself when you are done."),
      h("p", {}, link(auth.webFormUrl, attributes, "Open finAPI's web form", NOT_A_LINK)),
    ];
  }

  async send(body, button) {
    button.disabled = true;
    this.ui.clearProblem();
    try {
      this.show(await api.answer(this.update.updateId, body));
    } catch (error) {
      this.ui.problem(error);
      if (error instanceof ApiError && error.status !== 401) await this.follow(this.update.updateId);
      else button.disabled = false;
    }
  }

  async watch(generation) {
    const started = Date.now();
    const shape = (update) => JSON.stringify([update.status, update.authentication && [update.authentication.status, update.authentication.round]]);
    const seen = shape(this.update);
    while (generation === this.generation) {
      await sleep(0.5);
      if (generation !== this.generation) return;
      let update;
      try {
        update = await api.update(this.update.updateId);
      } catch (error) {
        this.ui.problem(error);
        return;
      }
      if (generation !== this.generation) return;
      if (shape(update) !== seen) return this.show(update);
      const elapsed = this.body.querySelector("#elapsed");
      if (elapsed) elapsed.textContent = `${Math.round((Date.now() - started) / 1000)} s so far`;
    }
  }

  // Decoupled approval: ask the bank again and again, never faster than the API allows. A 429 TOO_EARLY says how
  // long to wait (Retry-After); its pace is learnt from it, so each later check comes just when it is allowed.
  async checkDecoupled(generation) {
    const progress = this.body.querySelector("#decoupled-progress");
    const status = this.body.querySelector("#decoupled-checks");
    let wait = this.pace;
    let lastAnswered = Date.now();
    for (let checks = 1; generation === this.generation; ) {
      progress.max = wait;
      for (let waited = 0; waited < wait; waited += 0.1) {
        progress.value = waited;
        await sleep(0.1);
        if (generation !== this.generation) return;
      }
      try {
        const update = await api.answer(this.update.updateId, { decoupledCallback: true });
        if (generation !== this.generation) return;
        if (update.authentication && update.authentication.status === "DECOUPLED_AUTH_IN_PROGRESS") {
          status.textContent = `Checked with your bank ${checks} ${checks === 1 ? "time" : "times"}: not confirmed yet.`;
          checks += 1;
          lastAnswered = Date.now();
          wait = this.pace;
          continue;
        }
        return this.show(update);
      } catch (error) {
        if (generation !== this.generation) return;
        if (error instanceof ApiError && error.code === "TOO_EARLY") {
          wait = error.retryAfter || this.pace;
          this.pace = Math.max(this.pace, (Date.now() - lastAnswered) / 1000 + wait);
          continue;
        }
        this.ui.problem(error);
        return this.follow(this.update.updateId);
      }
    }
  }
}
