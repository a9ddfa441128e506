// The bank's redirect lands here: post what it sent (the whole URL) as redirectCallback, then show the update.
import { api, ApiError, isUpdateId, redirect } from "./api.js";

const status = document.getElementById("return-status");
const problem = document.getElementById("problem");
const updateId = redirect.take();
const returned = location.href;
// The URL carries the bank's authorization code: keep it out of the history.
history.replaceState(null, "", location.pathname);

if (!isUpdateId(updateId)) {
  status.textContent = "No update is waiting for a bank's answer in this browser tab. You can close it.";
} else {
  try {
    await api.answer(updateId, { redirectCallback: returned });
    status.textContent = "Done. Showing your update…";
  } catch (error) {
    // The update shows what went wrong (e.g. the user cancelled at the bank); the code helps support.
    problem.textContent = error instanceof ApiError ? `${error.userMessage} (${error.code})` : "The service cannot be reached.";
  }
  location.replace(`/?update=${encodeURIComponent(updateId)}`);
}
