// The incidents page: filters, the table most urgent first, acknowledge and resolve,
// one at a time or for the selected rows.

import { api, explain, q } from "./api.js";
import { $, h } from "./dom.js";
import { age, assignee, servicesDatalist, severityDot, statusBadge, when } from "./format.js";
import { notice, toast, updateTabTitle } from "./notices.js";
import { CAN_ACK, CAN_RESOLVE, OPEN, STATUSES, can, refreshMs, remember, state } from "./state.js";

// Open incidents of every status, then the most recent ones: what a dashboard watches.
// They also give the tab title its count.
export async function watchedIncidents() {
  const pages = await Promise.all([
    ...OPEN.map((status) => api("GET", `/api/incidents/list/all${q({ status, limit: 100 })}`)),
    api("GET", `/api/incidents/list/all${q({ limit: 50 })}`),
  ]);
  const byId = new Map();
  for (const page of pages) for (const incident of page.incidents) byId.set(incident.id, incident);
  const incidents = [...byId.values()];
  state.unacknowledged = new Set(incidents.filter((incident) => CAN_ACK.includes(incident.status)).map((incident) => incident.id));
  state.moreUnacknowledged = OPEN.some((status, index) => CAN_ACK.includes(status) && pages[index].next_cursor);
  updateTabTitle();
  return incidents;
}

export function incidentsPage(view) {
  const statusSelect = h(
    "select",
    { id: "filter-status", name: "status" },
    h("option", { value: "" }, "Open, then recent"),
    STATUSES.map((status) => h("option", { value: status }, status)),
  );
  statusSelect.value = state.filters.status;
  const serviceInput = h("input", {
    id: "filter-service",
    name: "service",
    list: "known-services",
    placeholder: "all services",
    value: state.filters.service,
    autocomplete: "off",
  });
  const filters = h(
    "form",
    { class: "filters", id: "filters", role: "search", "aria-label": "Filter incidents" },
    h("div", { class: "field" }, h("label", { for: "filter-status" }, "Status"), statusSelect),
    h("div", { class: "field" }, h("label", { for: "filter-service" }, "Service"), serviceInput),
    servicesDatalist(),
    h("div", { class: "field end" }, h("button", { type: "submit" }, "Apply"), " ", h("button", { type: "button", class: "ghost", id: "filters-clear" }, "Clear")),
  );
  const apply = () => {
    state.filters = { status: statusSelect.value, service: serviceInput.value.trim() };
    state.selected.clear();
    renderIncidentRows();
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  statusSelect.addEventListener("change", apply);
  filters.querySelector("#filters-clear").addEventListener("click", () => {
    statusSelect.value = "";
    serviceInput.value = "";
    apply();
  });

  const bulk = h(
    "div",
    { class: "bulk", id: "bulk", hidden: !can("respond") },
    h("span", { id: "bulk-count", class: "muted" }, "None selected"),
    h("button", { type: "button", id: "bulk-ack", disabled: true, onclick: () => bulkAction("acknowledge") }, "Acknowledge selected"),
    h("button", { type: "button", id: "bulk-resolve", disabled: true, onclick: () => bulkAction("resolve") }, "Resolve selected"),
  );

  view.append(
    h(
      "div",
      { class: "page-head" },
      h("h1", {}, "Incidents"),
      h("p", { class: "muted small", id: "refreshed", "aria-live": "off" }, "Loading…"),
    ),
    filters,
    bulk,
    h("p", { class: "summary", id: "incident-summary", hidden: true }),
    h("div", { id: "incident-table", class: "table-wrap" }),
  );
  renderIncidentRows();
}

async function listForFilters(watched) {
  const { status, service } = state.filters;
  if (!status && !service && watched) return watched;
  if (!status && !service) return watchedIncidents();
  const page = await api("GET", `/api/incidents/list/all${q({ status, service_name: service, limit: 100 })}`);
  return page.incidents;
}

const URGENCY = ["ESCALATED", "TRIGGERED", "ACKNOWLEDGED", "RESOLVED"];

// Most urgent first: escalated, triggered, acknowledged, resolved; newest first within each.
function byUrgency(incidents) {
  const rank = (incident) => (URGENCY.includes(incident.status) ? URGENCY.indexOf(incident.status) : URGENCY.length);
  return [...incidents].sort((a, b) => rank(a) - rank(b) || b.id - a.id);
}

function summaryText(incidents) {
  const waiting = incidents.filter((incident) => CAN_ACK.includes(incident.status)).length;
  const acknowledged = incidents.filter((incident) => incident.status === "ACKNOWLEDGED").length;
  if (!waiting && !acknowledged) return state.filters.status || state.filters.service ? "No open incidents match." : "No open incidents.";
  return `${waiting || "No"} unacknowledged incident${waiting === 1 ? "" : "s"}, ${acknowledged || "none"} acknowledged`;
}

function showSummary(incidents) {
  const line = $("#incident-summary");
  if (!line) return;
  line.hidden = !incidents.length;
  line.textContent = summaryText(incidents);
  line.classList.toggle("waiting", incidents.some((incident) => CAN_ACK.includes(incident.status)));
}

export async function renderIncidentRows(watched) {
  const holder = $("#incident-table");
  if (!holder) return;
  let incidents;
  try {
    incidents = byUrgency(await listForFilters(watched));
  } catch (error) {
    if (error.status === 401) return;
    holder.replaceChildren(h("p", { class: "panel error-text", role: "alert" }, explain(error)));
    return;
  }
  if (!$("#incident-table")) return;
  for (const incident of incidents) state.services.add(incident.service_name);
  const stamp = $("#refreshed");
  if (stamp) {
    stamp.textContent = `${incidents.length} shown · refreshed ${new Date().toLocaleTimeString()} · every ${Math.round(refreshMs() / 1000)} s`;
  }
  showSummary(incidents);
  const ids = new Set(incidents.map((incident) => incident.id));
  for (const id of [...state.selected]) if (!ids.has(id)) state.selected.delete(id);

  // Nothing changed since the last refresh: only the ages move (no flicker, no re-announcing).
  const signature = JSON.stringify(incidents.map((i) => [i.id, i.status, i.assigned_to, i.alert_count, i.severity]));
  if (holder.dataset.signature === signature && holder.querySelector("table, .empty")) {
    for (const cell of holder.querySelectorAll("time.age")) cell.textContent = age(cell.getAttribute("datetime"));
    return;
  }
  holder.dataset.signature = signature;
  if (!incidents.length) {
    holder.replaceChildren(h("p", { class: "panel empty" }, "No incidents match. All quiet."));
    updateBulk(incidents);
    return;
  }
  const responder = can("respond");
  const selectAll = h("input", {
    type: "checkbox",
    id: "select-all",
    "aria-label": "Select all shown incidents",
    "data-focus": "select-all",
    checked: incidents.length > 0 && incidents.every((incident) => state.selected.has(incident.id)),
  });
  selectAll.addEventListener("change", () => {
    for (const incident of incidents) {
      if (selectAll.checked) state.selected.add(incident.id);
      else state.selected.delete(incident.id);
    }
    for (const box of holder.querySelectorAll("input.row-select")) box.checked = selectAll.checked;
    updateBulk(incidents);
  });
  const headRow = h(
    "tr",
    {},
    responder ? h("th", { scope: "col", class: "check" }, selectAll) : null,
    ["#", "Service", "Title", "Status", "Assigned to", "Alerts", "Age"].map((label) => h("th", { scope: "col" }, label)),
    responder ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")) : null,
  );
  const body = h("tbody");
  let openDone = false;
  for (const incident of incidents) {
    const isOpen = OPEN.includes(incident.status);
    if (!isOpen && !openDone && incidents.some((other) => OPEN.includes(other.status))) {
      body.append(h("tr", { class: "divider" }, h("td", { colspan: responder ? 9 : 7 }, "Recently resolved")));
    }
    if (!isOpen) openDone = true;
    body.append(incidentRow(incident, responder, incidents));
  }
  const table = h(
    "table",
    { class: "incidents", id: "incidents" },
    h("caption", { class: "sr-only" }, "Incidents, most urgent first"),
    h("thead", {}, headRow),
    body,
  );
  // Keep the keyboard focus across refreshes: the same control of the same incident.
  const focused = holder.contains(document.activeElement) ? document.activeElement.dataset.focus : null;
  holder.replaceChildren(table);
  if (focused) {
    const again = holder.querySelector(`[data-focus="${focused}"]`);
    if (again) again.focus({ preventScroll: true });
    else if (focused.startsWith("ack-")) holder.querySelector(`[data-focus="resolve-${focused.slice(4)}"]`)?.focus({ preventScroll: true });
  }
  updateBulk(incidents);
}

function incidentRow(incident, responder, incidents) {
  const row = h("tr", { "data-id": incident.id, "data-status": incident.status, class: `row-${incident.status.toLowerCase()}` });
  if (responder) {
    const box = h("input", {
      type: "checkbox",
      class: "row-select",
      "aria-label": `Select incident ${incident.id}`,
      "data-focus": `select-${incident.id}`,
      checked: state.selected.has(incident.id),
    });
    box.addEventListener("change", () => {
      if (box.checked) state.selected.add(incident.id);
      else state.selected.delete(incident.id);
      updateBulk(incidents);
    });
    row.append(h("td", { class: "check" }, box));
  }
  row.append(
    h("td", { "data-label": "#", class: "num" }, h("a", { href: `#/incidents/${incident.id}`, "data-focus": `number-${incident.id}` }, `#${incident.id}`)),
    h("td", { "data-label": "Service", class: "service" }, incident.service_name),
    h(
      "td",
      { "data-label": "Title", class: "title" },
      h(
        "span",
        { class: "clamp" },
        severityDot(incident.severity),
        h("a", { href: `#/incidents/${incident.id}`, "data-focus": `title-${incident.id}`, title: incident.title }, incident.title),
      ),
    ),
    h("td", { "data-label": "Status" }, statusBadge(incident.status)),
    h("td", { "data-label": "Assigned to", class: "assignee" }, assignee(incident)),
    h("td", { "data-label": "Alerts", class: "num" }, String(incident.alert_count)),
    h("td", { "data-label": "Age" }, h("time", { class: "age", datetime: incident.created_at, title: when(incident.created_at) }, age(incident.created_at))),
  );
  if (responder) row.append(h("td", { class: "row-actions" }, actionButtons(incident)));
  return row;
}

export function actionButtons(incident, afterwards) {
  const buttons = [];
  if (!can("respond")) return buttons;
  const act = (action) => async (event) => {
    event.currentTarget.disabled = true;
    await transition(incident.id, action);
    if (afterwards) afterwards();
    else renderIncidentRows();
  };
  if (CAN_ACK.includes(incident.status)) {
    buttons.push(
      h(
        "button",
        { type: "button", class: "primary small", "aria-label": `Acknowledge incident ${incident.id}`, "data-focus": `ack-${incident.id}`, onclick: act("acknowledge") },
        "Acknowledge",
      ),
    );
  }
  if (CAN_RESOLVE.includes(incident.status)) {
    buttons.push(
      h(
        "button",
        { type: "button", class: "success small", "aria-label": `Resolve incident ${incident.id}`, "data-focus": `resolve-${incident.id}`, onclick: act("resolve") },
        "Resolve",
      ),
    );
  }
  return buttons;
}

async function transition(id, action) {
  try {
    const incident = await api("POST", `/api/incidents/${encodeURIComponent(id)}/${action}`);
    remember(incident);
    updateTabTitle();
    notice(null);
    return incident;
  } catch (error) {
    if (error.status !== 401) notice(`Could not ${action} incident #${id}: ${explain(error)}`);
    return null;
  }
}

function updateBulk(incidents) {
  const bar = $("#bulk");
  if (!bar) return;
  const chosen = incidents.filter((incident) => state.selected.has(incident.id));
  const ackable = chosen.filter((incident) => CAN_ACK.includes(incident.status));
  const resolvable = chosen.filter((incident) => CAN_RESOLVE.includes(incident.status));
  $("#bulk-count").textContent = chosen.length ? `${chosen.length} selected` : "None selected";
  bar.classList.toggle("idle", !chosen.length);
  const ack = $("#bulk-ack");
  const resolve = $("#bulk-resolve");
  ack.textContent = `Acknowledge selected (${ackable.length})`;
  resolve.textContent = `Resolve selected (${resolvable.length})`;
  ack.disabled = !ackable.length;
  resolve.disabled = !resolvable.length;
  bar.dataset.ack = ackable.map((incident) => incident.id).join(",");
  bar.dataset.resolve = resolvable.map((incident) => incident.id).join(",");
}

const MAX_BULK_IDS = 100;

async function bulkAction(action) {
  const bar = $("#bulk");
  const ids = (bar.dataset[action === "acknowledge" ? "ack" : "resolve"] || "").split(",").filter(Boolean).map(Number);
  if (!ids.length) return;
  for (const button of bar.querySelectorAll("button")) button.disabled = true;
  // One request per 100 incidents; each incident answers for itself in the results.
  const results = [];
  try {
    for (let start = 0; start < ids.length; start += MAX_BULK_IDS) {
      const answer = await api("POST", `/api/incidents/bulk/${action}`, { ids: ids.slice(start, start + MAX_BULK_IDS) });
      results.push(...answer.results);
    }
    notice(null);
  } catch (error) {
    if (error.status !== 401) notice(`Could not ${action} the selected incidents: ${explain(error)}`);
  }
  for (const result of results) if (result.incident) remember(result.incident);
  updateTabTitle();
  for (const id of ids) state.selected.delete(id);
  if (results.length) toast(bulkSummary(action, results), null, results.every((result) => result.incident) ? "ok" : "info");
  const table = $("#incident-table");
  if (table) delete table.dataset.signature;
  renderIncidentRows();
}

function bulkSummary(action, results) {
  const done = results.filter((result) => result.incident);
  const failed = results.filter((result) => !result.incident);
  const verb = action === "acknowledge" ? "Acknowledged" : "Resolved";
  const why = failed.slice(0, 3).map((result) => `#${result.id}: ${result.error ? result.error.error : `HTTP ${result.status}`}`);
  const more = failed.length > why.length ? ` …and ${failed.length - why.length} more.` : "";
  return `${verb} ${done.length} of ${results.length} incidents.${failed.length ? ` Not ${action}d: ${why.join(" ")}${more}` : ""}`;
}
