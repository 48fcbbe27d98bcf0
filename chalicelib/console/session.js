// Signing in and out. The key lives in sessionStorage: as long as the tab, no longer.

import { api, explain } from "./api.js";
import { $, h } from "./dom.js";
import { render } from "./main.js";
import { showLocalPages } from "./messages.js";
import { notice } from "./notices.js";
import { startPolling, stopPolling } from "./polling.js";
import { KEY_STORAGE, can, state } from "./state.js";

async function signIn(key) {
  const me = await api("GET", "/api/me", undefined, key);
  sessionStorage.setItem(KEY_STORAGE, key);
  state.me = me;
  state.known = null;
  afterSignIn();
}

export function afterSignIn() {
  $("#who-name").textContent = state.me.user || state.me.key_name;
  $("#who-role").textContent = state.me.role;
  $("#who").hidden = false;
  const nav = $("#nav");
  nav.hidden = false;
  for (const link of nav.querySelectorAll("a")) link.hidden = !can(link.dataset.needs) || "local" in link.dataset;
  showLocalPages();
  startPolling();
  if (!location.hash || location.hash === "#/signin") location.hash = can("read") ? "#/incidents" : "#/trigger";
  else render();
}

export function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.me = null;
  state.known = null;
  state.unacknowledged.clear();
  state.learned.clear();
  state.moreUnacknowledged = false;
  state.selected.clear();
  stopPolling();
  $("#who").hidden = true;
  $("#nav").hidden = true;
  $("#toasts").replaceChildren();
  delete $("#toasts").dataset.watching;
  notice(message || null, message ? "error" : "info");
  if (location.hash !== "#/signin") location.hash = "#/signin";
  else render();
}

export function signInPage(view) {
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "signin-help",
  });
  const error = h("p", { class: "form-error", id: "signin-error", role: "alert" });
  const form = h(
    "form",
    { class: "panel narrow", id: "signin-form" },
    h("h1", {}, "Sign in"),
    h(
      "p",
      { id: "signin-help", class: "muted" },
      "Paste your oncall API key. It is kept only in this browser tab (sessionStorage) and is sent with each API call.",
    ),
    h("label", { for: "api-key" }, "API key"),
    input,
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Sign in")),
    h(
      "p",
      { class: "muted small signin-hint" },
      "No key yet? make run prints an admin key when it starts (or set ONCALL_ADMIN_KEY); admins create keys for responders and integrations with POST /api/keys.",
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    const key = input.value.trim();
    if (!key) return;
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      notice(null);
      await signIn(key);
    } catch (failure) {
      error.textContent =
        failure.status === 401
          ? `This key was refused (401 Unauthorized): ${failure.message} Check that you pasted the whole key and that it has not been revoked.`
          : explain(failure);
    } finally {
      button.disabled = false;
    }
  });
  view.append(form);
  input.focus();
}
