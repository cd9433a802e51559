// The page's shell: sign in and out, the balance in the header, routing between the views
// (#/new, #/history, #/p/<id>) and the delete confirmation they share.

import { api, ApiError, forgetKey, storedKey, storeKey } from "./api.js";
import { credits } from "./format.js";
import { HistoryView } from "./history.js";
import { NewSyncForm } from "./newsync.js";
import { ProjectView } from "./project.js";

const $ = (id) => document.getElementById(id);

const state = {
  balance: null,
  /** What this tab uploaded, per project id, so the result can play beside its input. */
  inputs: new Map(),
};

const shared = {
  getBalance: () => state.balance,
  refreshBalance,
  onUnauthorized: signOut,
  confirmDelete,
  inputsFor: (id) => state.inputs.get(id),
  onCreated(project, inputs) {
    state.inputs.set(project.id, inputs);
    refreshBalance();
    location.hash = `#/p/${encodeURIComponent(project.id)}`;
  },
};

const views = {
  signin: { element: $("view-signin") },
  new: { element: $("view-new"), controller: new NewSyncForm(shared) },
  project: { element: $("view-project"), controller: new ProjectView(shared) },
  history: { element: $("view-history"), controller: new HistoryView(shared) },
};

let current = null;

function showView(name, arg) {
  if (current && current !== name) views[current].controller?.hide?.();
  for (const [key, view] of Object.entries(views)) view.element.hidden = key !== name;
  const signedIn = name !== "signin";
  document.querySelectorAll("[data-signed-in]").forEach((element) => {
    element.hidden = !signedIn;
  });
  document.querySelectorAll("[data-route]").forEach((link) => {
    if (link.dataset.route === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  });
  const moved = current !== null && current !== name;
  current = name;
  views[name].controller?.show?.(arg);
  // Moving focus to the new heading tells screen-reader users the page changed.
  if (moved) views[name].element.querySelector("h1")?.focus();
  document.title = `${views[name].element.querySelector("h1").textContent} · openlipsync`;
}

function route() {
  if (!storedKey()) {
    showView("signin");
    return;
  }
  const hash = location.hash;
  if (hash.startsWith("#/p/")) showView("project", decodeURIComponent(hash.slice(4)));
  else if (hash === "#/history") showView("history");
  else showView("new");
}

async function refreshBalance() {
  try {
    const account = await api.account();
    state.balance = account.credits;
    $("balance").textContent = credits(account.credits);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    if (error.status === 401) signOut("The server no longer accepts this key. Sign in again.");
    else $("balance").textContent = "Balance unavailable";
  }
  views.new.controller.updateCosts();
}

function signOut(message = "") {
  forgetKey();
  state.balance = null;
  state.inputs.clear();
  $("balance").textContent = "";
  $("api-key").value = "";
  $("api-key-error").textContent = typeof message === "string" ? message : "";
  location.hash = "";
  route();
  $("api-key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = $("api-key");
  const error = $("api-key-error");
  const key = input.value.trim();
  error.textContent = "";
  input.removeAttribute("aria-invalid");
  if (!key) {
    error.textContent = "Paste an API key.";
    input.setAttribute("aria-invalid", "true");
    input.focus();
    return;
  }
  const button = $("signin-button");
  button.disabled = true;
  try {
    const account = await api.account(key);
    storeKey(key);
    state.balance = account.credits;
    $("balance").textContent = credits(account.credits);
    input.value = "";
    location.hash = "#/new";
    route();
  } catch (failure) {
    if (!(failure instanceof ApiError)) throw failure;
    error.textContent =
      failure.status === 401 ? "This key is not valid on this server." : `Could not sign in: ${failure.message}`;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  } finally {
    button.disabled = false;
  }
}

/** Asks in a modal dialog, then deletes; resolves true once the project is gone. */
function confirmDelete(project) {
  const dialog = $("delete-dialog");
  const error = $("delete-error");
  const confirmButton = $("delete-confirm");
  $("delete-title").textContent = `Delete “${project.name || "Untitled lip sync"}”?`;
  error.textContent = "";
  return new Promise((resolve) => {
    const onConfirm = async (event) => {
      event.preventDefault(); // keep the dialog open until the server has answered
      confirmButton.disabled = true;
      try {
        await api.deleteProject(project.id);
        state.inputs.delete(project.id);
        dialog.close("deleted");
      } catch (failure) {
        if (!(failure instanceof ApiError)) throw failure;
        error.textContent = failure.status === 404 ? "It was already deleted." : failure.message;
        if (failure.status === 404) dialog.close("deleted");
      } finally {
        confirmButton.disabled = false;
      }
    };
    confirmButton.addEventListener("click", onConfirm);
    dialog.addEventListener(
      "close",
      () => {
        confirmButton.removeEventListener("click", onConfirm);
        if (dialog.returnValue === "deleted") refreshBalance();
        resolve(dialog.returnValue === "deleted");
      },
      { once: true },
    );
    dialog.returnValue = "";
    dialog.showModal();
  });
}

$("signin-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", () => signOut());
window.addEventListener("hashchange", route);
if (storedKey()) refreshBalance();
route();
