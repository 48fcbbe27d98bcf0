// The oncall web console: one page, hash routes, plain DOM, native modules. Every piece
// of data from the API is placed with textContent or as an attribute value, never as HTML.
// All business rules live on the server; this page only offers what the API allows.
// This module routes between the pages and starts the console.

import { api, explain, explain401 } from "./api.js";
import { $, h } from "./dom.js";
import { incidentPage, keepDrafts } from "./incident.js";
import { heartbeatsPage } from "./heartbeats.js";
import { incidentsPage } from "./incidents.js";
import { maintenancePage } from "./maintenance.js";
import { messagesPage } from "./messages.js";
import { metricsPage } from "./metrics.js";
import { notice, setupAlerts, updateTabTitle } from "./notices.js";
import { oncallPage } from "./oncall.js";
import { reportsPage } from "./reports.js";
import { afterSignIn, signInPage, signOut } from "./session.js";
import { KEY_STORAGE, can, refreshMs, state } from "./state.js";
import { triggerPage } from "./trigger.js";

function parseRoute() {
  // "#/incidents?status=TRIGGERED&q=disk": the page's path, then its own query (filters).
  const [path, search] = location.hash.replace(/^#\/?/, "").split(/\?(.*)/s);
  const query = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean);
  const page = parts[0] || (state.me ? (can("read") ? "incidents" : "trigger") : "signin");
  const id = page === "incidents" && parts[1] && /^\d+$/.test(parts[1]) ? Number(parts[1]) : null;
  return { page, id, query };
}

export function render() {
  const view = $("#view");
  state.route = parseRoute();
  const { page, id } = state.route;
  keepDrafts();
  view.replaceChildren();
  if (!state.me) {
    if (page !== "signin") {
      location.hash = "#/signin";
      return;
    }
    document.title = "Sign in · oncall";
    signInPage(view);
    return;
  }
  updateTabTitle();
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === page) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const pages = {
    incidents: ["read", (v) => (id ? incidentPage(v, id) : incidentsPage(v))],
    trigger: ["trigger", triggerPage],
    oncall: ["read", oncallPage],
    maintenance: ["read", maintenancePage],
    heartbeats: ["read", heartbeatsPage],
    metrics: ["read", metricsPage],
    reports: ["read", reportsPage],
    messages: ["manage", messagesPage],
  };
  const entry = pages[page];
  if (!entry) {
    if (page === "signin") location.hash = can("read") ? "#/incidents" : "#/trigger";
    else view.append(h("p", { class: "panel" }, "There is no such page. ", h("a", { href: "#/incidents" }, "Go to incidents")));
    return;
  }
  const [needs, draw] = entry;
  if (!can(needs)) {
    view.append(
      h(
        "div",
        { class: "panel", role: "alert", id: "forbidden" },
        h("h1", {}, "Not available to this key"),
        h("p", {}, `This page needs an admin or responder key (403 Forbidden for a ${state.me.role} key). An integration key may only trigger incidents for ${(state.me.services || []).join(", ") || "its services"}.`),
        h("p", {}, h("a", { href: "#/trigger" }, "Go to Trigger")),
      ),
    );
    return;
  }
  draw(view);
}

async function start() {
  $("#sign-out").addEventListener("click", () => signOut());
  setupAlerts();
  // The skip link must not touch the hash: the hash is the route.
  $(".skip").addEventListener("click", (event) => {
    event.preventDefault();
    $("#view").focus();
  });
  window.addEventListener("hashchange", () => {
    render();
    // Move the focus to the new page (for screen readers) unless the page focused a field itself.
    const view = $("#view");
    if (!view.contains(document.activeElement)) view.focus({ preventScroll: true });
  });
  refreshMs();
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (!key) {
    render();
    return;
  }
  try {
    state.me = await api("GET", "/api/me", undefined, key);
    afterSignIn();
  } catch (error) {
    if (error.status === 401) signOut(explain401(error));
    else {
      render();
      notice(explain(error));
    }
  }
}

start();
