// The incidents page: filters, the table most urgent first, acknowledge and resolve,
// one at a time or for the selected rows.

import { api, explain, q } from "./api.js";
import { $, h } from "./dom.js";
import { assignee, errorSentence, maintenanceBadge, refreshTimes, relTime, servicesDatalist, severityDot, showError, statusBadge } from "./format.js";
import { toast, updateTabTitle } from "./notices.js";
import { CAN_ACK, CAN_RESOLVE, OPEN, STATUSES, can, refreshMs, remember, state } from "./state.js";

// Open incidents of every status, then the most recent ones: what a dashboard watches.
// They also give the tab title its count. null when a fetch begun later was answered
// first: what it told the page is newer than this.
export async function watchedIncidents() {
  const watch = ++state.watches;
  const pages = await Promise.all([
    ...OPEN.map((status) => api("GET", `/api/incidents/list/all${q({ status, limit: 100 })}`)),
    api("GET", `/api/incidents/list/all${q({ limit: 50 })}`),
  ]);
  if (watch < state.appliedWatch) return null;
  state.appliedWatch = watch;
  const byId = new Map();
  for (const page of pages) for (const incident of page.incidents) byId.set(incident.id, incident);
  const incidents = [...byId.values()];
  state.unacknowledged = new Set(incidents.filter(paging).map((incident) => incident.id));
  for (const [id, seen] of state.learned) {
    if (seen.watch < watch) state.learned.delete(id); // this fetch began after the action: it holds it
    else if (seen.waits) state.unacknowledged.add(id);
    else state.unacknowledged.delete(id);
  }
  state.moreUnacknowledged = OPEN.some((status, index) => CAN_ACK.includes(status) && pages[index].next_cursor);
  updateTabTitle();
  return incidents;
}

// The filters live in the hash's query, so a reload or a shared link shows the same list.
function filtersFromRoute() {
  const query = (state.route && state.route.query) || new URLSearchParams();
  const status = query.get("status") || "";
  return {
    status: STATUSES.includes(status) ? status : "",
    service: (query.get("service") || "").trim(),
    q: (query.get("q") || "").trim(),
    mine: query.get("mine") === "1",
  };
}

function filtersHash(filters) {
  return `#/incidents${q({ status: filters.status, service: filters.service, q: filters.q, mine: filters.mine ? "1" : "" })}`;
}

const filtering = (filters) => Boolean(filters.status || filters.service || filters.q || filters.mine);

export function incidentsPage(view) {
  state.filters = filtersFromRoute();
  rowErrors.clear();
  state.listHash = filtersHash(state.filters);
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
    placeholder: "any service",
    value: state.filters.service,
    autocomplete: "off",
  });
  const searchInput = h("input", {
    id: "filter-q",
    name: "q",
    type: "search",
    placeholder: "words in the title (press /)",
    value: state.filters.q,
    autocomplete: "off",
  });
  const mineBox = state.me && state.me.user ? h("input", { type: "checkbox", id: "filter-mine", name: "mine", checked: state.filters.mine }) : null;
  const filters = h(
    "form",
    { class: "filters", id: "filters", role: "search", "aria-label": "Filter incidents" },
    h("div", { class: "field" }, h("label", { for: "filter-status" }, "Status"), statusSelect),
    h("div", { class: "field" }, h("label", { for: "filter-service" }, "Service"), serviceInput),
    h("div", { class: "field" }, h("label", { for: "filter-q" }, "Search"), searchInput),
    mineBox ? h("div", { class: "field check-field" }, mineBox, h("label", { for: "filter-mine" }, "Assigned to me")) : null,
    servicesDatalist(),
    h(
      "div",
      { class: "field end" },
      h("button", { type: "submit" }, "Apply"),
      " ",
      h("button", { type: "button", class: "ghost", id: "filters-clear" }, "Clear"),
      " ",
      h("button", { type: "button", class: "ghost", id: "keys-help", "aria-label": "Keyboard shortcuts", title: "Keyboard shortcuts (?)", onclick: showKeys }, "?"),
    ),
  );
  let typing = null;
  const apply = () => {
    clearTimeout(typing);
    const next = {
      status: statusSelect.value,
      service: serviceInput.value.trim(),
      q: searchInput.value.trim(),
      mine: Boolean(mineBox && mineBox.checked),
    };
    state.filters = next;
    state.selected.clear();
    // Replace the address without a hashchange: the page stays, the link now says what it shows.
    history.replaceState(history.state, "", `${location.pathname}${location.search}${filtersHash(next)}`);
    state.listHash = filtersHash(next);
    state.route.query = new URLSearchParams(state.listHash.split("?")[1] || "");
    renderIncidentRows();
  };
  filters.addEventListener("submit", (event) => {
    event.preventDefault();
    apply();
  });
  statusSelect.addEventListener("change", apply);
  if (mineBox) mineBox.addEventListener("change", apply);
  for (const input of [serviceInput, searchInput]) {
    input.addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(apply, 300);
    });
  }
  filters.querySelector("#filters-clear").addEventListener("click", () => {
    statusSelect.value = "";
    serviceInput.value = "";
    searchInput.value = "";
    if (mineBox) mineBox.checked = false;
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

const MAX_FILTER_PAGES = 5;

async function pagesOf(params) {
  const incidents = [];
  let cursor = null;
  for (let page = 0; page < MAX_FILTER_PAGES; page += 1) {
    const answer = await api("GET", `/api/incidents/list/all${q({ ...params, limit: 100, cursor })}`);
    incidents.push(...answer.incidents);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return incidents;
}

// The server filters by status (and by a service named exactly); the service substring,
// the title search and "assigned to me" are applied here, over the pages loaded.
async function listForFilters(watched) {
  const { status, service, q: words, mine } = state.filters;
  let incidents;
  if (!status) incidents = watched || (await watchedIncidents());
  else incidents = await pagesOf({ status });
  if (!incidents) return null; // a later fetch drew, or will draw, the table
  if (service && state.services.has(service)) {
    const exact = await pagesOf({ status, service_name: service });
    const byId = new Map(incidents.map((incident) => [incident.id, incident]));
    for (const incident of exact) byId.set(incident.id, incident);
    incidents = [...byId.values()];
  }
  const serviceText = service.toLowerCase();
  const terms = words.toLowerCase().split(/\s+/).filter(Boolean);
  const me = state.me && state.me.user;
  return incidents.filter(
    (incident) =>
      (!serviceText || String(incident.service_name).toLowerCase().includes(serviceText)) &&
      terms.every((term) => String(incident.title).toLowerCase().includes(term)) &&
      (!mine || (me && incident.assigned_to === me)),
  );
}

const URGENCY = ["ESCALATED", "TRIGGERED", "ACKNOWLEDGED", "RESOLVED"];

// Open, in a maintenance window: it pages nobody, so it is listed apart and not counted as waiting.
const inMaintenance = (incident) => Boolean(incident.suppressed) && OPEN.includes(incident.status);
// Waiting for someone: not acknowledged and paging.
const paging = (incident) => CAN_ACK.includes(incident.status) && !incident.suppressed;

// Most urgent first: escalated, triggered, acknowledged, then what is in maintenance, then
// resolved; newest first within each.
function byUrgency(incidents) {
  const rank = (incident) => {
    if (inMaintenance(incident)) return URGENCY.length - 1.5;
    return URGENCY.includes(incident.status) ? URGENCY.indexOf(incident.status) : URGENCY.length;
  };
  return [...incidents].sort((a, b) => rank(a) - rank(b) || b.id - a.id);
}

function summaryText(incidents) {
  const waiting = incidents.filter(paging).length;
  const acknowledged = incidents.filter((incident) => incident.status === "ACKNOWLEDGED" && !incident.suppressed).length;
  const quiet = incidents.filter(inMaintenance).length;
  const inWindow = quiet ? `, ${quiet} in maintenance` : "";
  if (!waiting && !acknowledged && !quiet) return filtering(state.filters) ? "No open incidents match." : "No open incidents.";
  return `${waiting || "No"} unacknowledged incident${waiting === 1 ? "" : "s"}, ${acknowledged || "none"} acknowledged${inWindow}`;
}

function showSummary(incidents) {
  const line = $("#incident-summary");
  if (!line) return;
  line.hidden = !incidents.length;
  line.textContent = summaryText(incidents);
  line.classList.toggle("waiting", incidents.some(paging));
}

// Each drawing of the table is numbered: an answer that arrives after a later drawing
// began (the filters changed meanwhile) is dropped rather than drawn over it.
let drawings = 0;

export async function renderIncidentRows(watched) {
  const holder = $("#incident-table");
  if (!holder) return;
  const drawing = ++drawings;
  let incidents;
  try {
    const listed = await listForFilters(watched);
    if (!listed) return;
    incidents = byUrgency(listed);
  } catch (error) {
    if (error.status === 401 || drawing !== drawings) return;
    holder.replaceChildren(h("p", { class: "panel error-text", role: "alert" }, explain(error)));
    return;
  }
  if (drawing !== drawings || !$("#incident-table")) return;
  for (const incident of incidents) state.services.add(incident.service_name);
  const stamp = $("#refreshed");
  if (stamp) {
    stamp.textContent = `${incidents.length} shown · refreshed ${new Date().toLocaleTimeString()} · every ${Math.round(refreshMs() / 1000)} s`;
  }
  showSummary(incidents);
  const ids = new Set(incidents.map((incident) => incident.id));
  for (const id of [...state.selected]) if (!ids.has(id)) state.selected.delete(id);

  // Nothing changed since the last refresh: only the ages move (no flicker, no re-announcing).
  const signature = JSON.stringify([incidents.map((i) => [i.id, i.status, i.assigned_to, i.alert_count, i.severity, rowErrors.get(i.id)]), filtersHash(state.filters)]);
  if (holder.dataset.signature === signature && holder.querySelector("table, .empty")) {
    refreshTimes(holder);
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
  let quietDone = false;
  const divider = (text) => h("tr", { class: "divider" }, h("td", { colspan: responder ? 9 : 7 }, text));
  for (const incident of incidents) {
    const isOpen = OPEN.includes(incident.status);
    if (inMaintenance(incident) && !quietDone) {
      body.append(divider("In maintenance: paging nobody until the window is over"));
      quietDone = true;
    }
    if (!isOpen && !openDone && incidents.some((other) => OPEN.includes(other.status))) {
      body.append(divider("Recently resolved"));
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
  const row = h("tr", {
    "data-id": incident.id,
    "data-status": incident.status,
    class: `row-${incident.status.toLowerCase()}${state.highlighted === incident.id ? " current" : ""}`,
  });
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
    h("td", { "data-label": "Status" }, statusBadge(incident.status), incident.suppressed ? maintenanceBadge() : null),
    h("td", { "data-label": "Assigned to", class: "assignee" }, assignee(incident)),
    h("td", { "data-label": "Alerts", class: "num" }, String(incident.alert_count)),
    h("td", { "data-label": "Age", class: "age-cell" }, relTime(incident.created_at)),
  );
  const failed = rowErrors.get(incident.id);
  if (responder) {
    row.append(
      h(
        "td",
        { class: "row-actions" },
        actionButtons(incident),
        failed ? h("p", { class: "inline-error", role: "alert", id: `row-error-${incident.id}` }, failed) : null,
      ),
    );
  }
  return row;
}

export function actionButtons(incident, afterwards) {
  const buttons = [];
  if (!can("respond")) return buttons;
  const act = (action) => async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    const outcome = await transition(incident.id, action);
    if (outcome.error) {
      if (outcome.error.status === 401) return;
      const sentence = errorSentence(outcome.error);
      if (afterwards) {
        // On the incident's page: beside the button, until the next try or another page.
        button.disabled = false;
        showError(button, sentence);
        return;
      }
      rowErrors.set(incident.id, sentence);
    } else {
      rowErrors.delete(incident.id);
    }
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

// An action's refusal is shown beside the row or button that asked (rowErrors for the list).
const rowErrors = new Map();

async function transition(id, action) {
  try {
    const incident = await api("POST", `/api/incidents/${encodeURIComponent(id)}/${action}`);
    remember(incident);
    updateTabTitle();
    return { incident };
  } catch (error) {
    return { error };
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
  const problem = $("#bulk-error");
  if (problem) problem.remove();
  try {
    for (let start = 0; start < ids.length; start += MAX_BULK_IDS) {
      const answer = await api("POST", `/api/incidents/bulk/${action}`, { ids: ids.slice(start, start + MAX_BULK_IDS) });
      results.push(...answer.results);
    }
  } catch (error) {
    if (error.status !== 401) bar.append(h("p", { class: "inline-error", role: "alert", id: "bulk-error" }, `Could not ${action} the selected incidents: ${errorSentence(error)}`));
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

// The list by keyboard: j/k move the highlighted row, a acknowledges it, r resolves it,
// / goes to the search, ? lists the keys. Ignored while typing in a field.
const KEYS = [
  ["j", "next incident"],
  ["k", "previous incident"],
  ["a", "acknowledge the highlighted incident"],
  ["r", "resolve the highlighted incident"],
  ["Enter", "open the highlighted incident"],
  ["/", "search titles"],
  ["?", "show these keys"],
  ["Esc", "close this list"],
];

function showKeys() {
  let dialog = $("#keys-dialog");
  if (!dialog) {
    dialog = h(
      "dialog",
      { id: "keys-dialog", class: "keys-dialog", "aria-labelledby": "keys-head" },
      h("h2", { id: "keys-head" }, "Keyboard shortcuts"),
      h("dl", { class: "keys" }, KEYS.map(([key, does]) => h("div", {}, h("dt", {}, h("kbd", {}, key)), h("dd", {}, does)))),
      h("form", { method: "dialog" }, h("button", { type: "submit", class: "primary" }, "Close")),
    );
    document.body.append(dialog);
  }
  if (!dialog.open) dialog.showModal();
}

function typingIn(target) {
  if (!target || !target.closest) return false;
  const field = "textarea, select, [contenteditable], input:not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit])";
  return Boolean(target.isContentEditable || target.closest(field));
}

function moveHighlight(step) {
  const rows = [...document.querySelectorAll("#incidents tbody tr[data-id]")];
  if (!rows.length) return;
  const at = rows.findIndex((row) => Number(row.dataset.id) === state.highlighted);
  const next = rows[at < 0 ? (step > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + step))];
  for (const row of rows) row.classList.toggle("current", row === next);
  state.highlighted = Number(next.dataset.id);
  next.scrollIntoView({ block: "nearest" });
}

function highlightedRow() {
  return state.highlighted === null ? null : document.querySelector(`#incidents tr[data-id="${state.highlighted}"]`);
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
  if (!state.me || !state.route || state.route.page !== "incidents" || state.route.id) return;
  if (typingIn(event.target) || document.querySelector("dialog[open]")) return;
  const row = highlightedRow();
  const press = (label) => {
    const button = row && row.querySelector(`button[aria-label^="${label} incident"]`);
    if (button && !button.disabled) button.click();
  };
  switch (event.key) {
    case "j":
      moveHighlight(1);
      break;
    case "k":
      moveHighlight(-1);
      break;
    case "a":
      press("Acknowledge");
      break;
    case "r":
      press("Resolve");
      break;
    case "Enter":
      if (!row || event.target.closest("a, button")) return;
      location.hash = `#/incidents/${row.dataset.id}`;
      break;
    case "/":
      $("#filter-q")?.focus();
      break;
    case "?":
      showKeys();
      break;
    default:
      return;
  }
  event.preventDefault();
});
