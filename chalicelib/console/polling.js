// Polling: every few seconds the watched incidents are fetched again; new incidents
// and status changes become toasts (and, for new and escalated incidents, browser
// notifications), and the page on show is brought up to date.

import { explain } from "./api.js";
import { $ } from "./dom.js";
import { renderIncidentRows, watchedIncidents } from "./incidents.js";
import { render } from "./main.js";
import { alertOutside, toast, unstickToasts } from "./notices.js";
import { CAN_ACK, can, refreshMs, state } from "./state.js";

export function startPolling() {
  stopPolling();
  if (!can("read")) return;
  state.timer = setInterval(refresh, refreshMs());
  refresh();
}

export function stopPolling() {
  if (state.timer) clearInterval(state.timer);
  state.timer = null;
}

const MAX_TOASTS_PER_REFRESH = 5;

function announce(incidents) {
  const first = state.known === null;
  const known = state.known || new Map();
  const ordered = [...incidents].sort((a, b) => a.id - b.id);
  const news = [];
  for (const incident of ordered) {
    const before = known.get(incident.id);
    const link = `#/incidents/${incident.id}`;
    const waiting = CAN_ACK.includes(incident.status);
    if (!first && before === undefined) {
      news.push([`New incident #${incident.id} on ${incident.service_name}: ${incident.title}`, link, "new", incident, waiting]);
      if (waiting) alertOutside(`New incident #${incident.id} on ${incident.service_name}`, incident.title, link, incident.id);
    } else if (!first && before !== incident.status) {
      news.push([`Incident #${incident.id} (${incident.title}) is now ${incident.status}`, link, "info", incident, waiting]);
      if (incident.status === "ESCALATED") alertOutside(`Incident #${incident.id} escalated (${incident.service_name})`, incident.title, link, incident.id);
    }
    if (!waiting && before !== undefined && before !== incident.status) unstickToasts(incident.id);
    known.set(incident.id, incident.status);
    state.services.add(incident.service_name);
  }
  // What the page did while the incidents were fetched was announced where it was done.
  for (const [id, seen] of state.learned) known.set(id, seen.status);
  state.known = known;
  // From here on a new incident is news: a test (or a reader of the DOM) waits for this.
  $("#toasts").dataset.watching = "";
  // An alert storm gives a summary, not a wall of toasts for a screen reader to read out.
  const shown = news.length > MAX_TOASTS_PER_REFRESH ? news.slice(0, MAX_TOASTS_PER_REFRESH - 1) : news;
  for (const [message, link, kind, incident, sticky] of shown) toast(message, link, kind, { incident: incident.id, sticky });
  if (shown.length < news.length) {
    toast(`…and ${news.length - shown.length} more new incidents or status changes`, "#/incidents", "new");
  }
}

async function refresh() {
  if (state.refreshing || !state.me) return;
  state.refreshing = true;
  try {
    const incidents = await watchedIncidents();
    if (!incidents) return; // a later fetch was answered first, and announced
    announce(incidents);
    const route = state.route;
    if (route && route.page === "incidents" && !route.id) await renderIncidentRows(incidents);
    if (route && route.page === "incidents" && route.id) {
      const seen = incidents.find((incident) => incident.id === route.id);
      const shown = $("#detail");
      const changed = seen && shown && (seen.status !== shown.dataset.status || String(seen.alert_count) !== shown.dataset.alerts || (seen.assigned_to || "") !== shown.dataset.assignee);
      if (changed) render();
    }
  } catch (error) {
    if (error.status !== 401) setStale(explain(error));
  } finally {
    state.refreshing = false;
  }
}

function setStale(message) {
  const stamp = $("#refreshed");
  if (stamp) stamp.textContent = `Refresh failed: ${message}`;
}
