// The oncall web console: one page, hash routes, plain DOM. Every piece of data
// from the API is placed with textContent or as an attribute value, never as HTML.
// All business rules live on the server; this page only offers what the API allows.
"use strict";

(() => {
  const KEY_STORAGE = "oncall.key";
  const REFRESH_STORAGE = "oncall.refreshMs";
  const DEFAULT_REFRESH_MS = 10000;
  const OPEN = ["TRIGGERED", "ESCALATED", "ACKNOWLEDGED"];
  const STATUSES = ["TRIGGERED", "ESCALATED", "ACKNOWLEDGED", "RESOLVED"];
  const SEVERITIES = ["critical", "error", "warning", "info"];
  const CAN_ACK = ["TRIGGERED", "ESCALATED"];
  const CAN_RESOLVE = ["ACKNOWLEDGED"];
  // An incident nobody was on call for, as a sentence and as a value (the log and messages say the same).
  const UNASSIGNED = "unassigned: nobody is on call";
  const UNASSIGNED_VALUE = "unassigned (nobody is on call)";
  const ROLE_CAN = {
    admin: { read: true, trigger: true, respond: true, manage: true },
    responder: { read: true, trigger: true, respond: true, manage: false },
    integration: { read: false, trigger: true, respond: false, manage: false },
  };

  const $ = (selector, root = document) => root.querySelector(selector);

  // --- DOM helpers: data only ever becomes text nodes or attribute values ----------

  function h(tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttrs(node, attrs);
    append(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value !== null && value !== undefined) node.setAttribute(name, String(value));
    }
    append(node, children);
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "checked" || name === "value" || name === "disabled" || name === "selected") node[name] = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
  }

  function append(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  // --- state ------------------------------------------------------------------------

  const state = {
    me: null,
    known: null, // incident id -> {status, title, service_name} seen at the last refresh
    services: new Set(),
    timer: null,
    refreshing: false,
    lastRefresh: null,
    route: null,
    filters: { status: "", service: "" },
    selected: new Set(),
    focusAfterRender: null, // the id of what to focus once the page is drawn again
    drafts: null, // {id, values, focused}: the detail page's forms across a re-draw
  };

  function can(action) {
    return Boolean(state.me && ROLE_CAN[state.me.role] && ROLE_CAN[state.me.role][action]);
  }

  function refreshMs() {
    // ?refresh=<ms> (kept for the tab in sessionStorage) shortens the poll for tests and demos.
    const fromQuery = new URLSearchParams(location.search).get("refresh");
    if (fromQuery && /^\d+$/.test(fromQuery)) sessionStorage.setItem(REFRESH_STORAGE, fromQuery);
    const stored = Number(sessionStorage.getItem(REFRESH_STORAGE));
    return stored >= 500 ? stored : DEFAULT_REFRESH_MS;
  }

  // --- the API ----------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error) || `HTTP ${status}`);
      this.status = status;
      this.code = body && body.code;
      this.field = body && body.field;
    }
  }

  async function api(method, path, body, token) {
    const key = token || sessionStorage.getItem(KEY_STORAGE);
    const headers = { Accept: "application/json" };
    if (key) headers.Authorization = `Bearer ${key}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      // Relative to the page, so the console also works under an API Gateway stage prefix.
      response = await fetch(path.replace(/^\//, ""), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      throw new ApiError(0, { error: "The server could not be reached; check your connection.", code: "network" });
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    if (!response.ok) {
      const failure = new ApiError(response.status, data);
      if (response.status === 401 && !token) signOut(explain401(failure));
      throw failure;
    }
    return data;
  }

  const q = (params) => {
    const search = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value !== "" && value != null) search.set(name, value);
    const text = search.toString();
    return text ? `?${text}` : "";
  };

  function explain401(error) {
    return `Signed out: the server refused your API key (401 Unauthorized). ${error.message} Sign in with a valid key; an admin can create one for you.`;
  }

  function explain(error) {
    if (error.status === 403) {
      const role = state.me ? state.me.role : "your";
      return `Not allowed (403 Forbidden) for a ${role} key: ${error.message}`;
    }
    if (error.status === 401) return explain401(error);
    if (error.status === 0) return error.message;
    return `${error.message} (HTTP ${error.status}${error.code ? `, ${error.code}` : ""})`;
  }

  // --- notices and toasts -------------------------------------------------------------

  function notice(message, kind = "error") {
    const box = $("#notice");
    box.replaceChildren();
    if (!message) {
      box.hidden = true;
      return;
    }
    box.className = `notice ${kind}`;
    append(box, [
      h("span", { text: message }),
      h("button", { type: "button", class: "ghost", "aria-label": "Dismiss", onclick: () => notice(null) }, "×"),
    ]);
    box.hidden = false;
  }

  function toast(message, href, kind = "info") {
    const region = $("#toasts");
    const item = h(
      "div",
      { class: `toast ${kind}` },
      h("span", { class: "toast-text", text: message }),
      href ? h("a", { href, class: "toast-link" }, "Open") : null,
      h("button", { type: "button", class: "ghost", "aria-label": "Dismiss notification", onclick: () => item.remove() }, "×"),
    );
    region.append(item);
    while (region.children.length > 6) region.firstElementChild.remove();
    setTimeout(() => item.remove(), 12000);
  }

  // --- formatting ---------------------------------------------------------------------

  const timeFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });

  function when(iso) {
    if (!iso) return "—";
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? String(iso) : timeFormat.format(date);
  }

  const preciseFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });

  function timeEl(iso, precise = false) {
    if (!iso) return "—";
    const date = new Date(iso);
    const text = Number.isNaN(date.getTime()) ? String(iso) : (precise ? preciseFormat : timeFormat).format(date);
    return h("time", { datetime: iso, title: iso }, text);
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 10) return `${Math.max(0, seconds).toFixed(1)}s`;
    const s = Math.max(0, Math.round(seconds));
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60);
    if (m < 60) return `${m}m ${s % 60}s`;
    const hours = Math.floor(m / 60);
    if (hours < 48) return `${hours}h ${m % 60}m`;
    return `${Math.floor(hours / 24)}d ${hours % 24}h`;
  }

  function age(iso) {
    const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
    if (!Number.isFinite(seconds)) return "—";
    if (seconds < 60) return "just now";
    return duration(seconds).split(" ")[0] + " ago";
  }

  function statusBadge(status) {
    return h("span", { class: `badge status-${String(status).toLowerCase()}` }, status);
  }

  function severityBadge(severity) {
    return h("span", { class: `sev sev-${SEVERITIES.includes(severity) ? severity : "info"}` }, severity);
  }

  function severityDot(severity) {
    const known = SEVERITIES.includes(severity) ? severity : "info";
    return h("span", { class: `sev-dot sev-${known}`, role: "img", "aria-label": `Severity ${severity}`, title: `Severity: ${severity}` });
  }

  function assignee(incident) {
    return incident.assigned_to ? incident.assigned_to : h("span", { class: "muted strong" }, UNASSIGNED_VALUE);
  }

  // --- sign in and out ----------------------------------------------------------------

  async function signIn(key) {
    const me = await api("GET", "/api/me", undefined, key);
    sessionStorage.setItem(KEY_STORAGE, key);
    state.me = me;
    state.known = null;
    afterSignIn();
  }

  function afterSignIn() {
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

  function signOut(message) {
    sessionStorage.removeItem(KEY_STORAGE);
    state.me = null;
    state.known = null;
    state.selected.clear();
    stopPolling();
    $("#who").hidden = true;
    $("#nav").hidden = true;
    $("#toasts").replaceChildren();
    notice(message || null, message ? "error" : "info");
    if (location.hash !== "#/signin") location.hash = "#/signin";
    else render();
  }

  function signInPage(view) {
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

  // --- polling: new incidents and status changes become toasts -------------------------

  function startPolling() {
    stopPolling();
    if (!can("read")) return;
    state.timer = setInterval(refresh, refreshMs());
    refresh();
  }

  function stopPolling() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  async function watchedIncidents() {
    // Open incidents of every status, then the most recent ones: what a dashboard watches.
    const pages = await Promise.all([
      ...OPEN.map((status) => api("GET", `/api/incidents/list/all${q({ status, limit: 100 })}`)),
      api("GET", `/api/incidents/list/all${q({ limit: 50 })}`),
    ]);
    const byId = new Map();
    for (const page of pages) for (const incident of page.incidents) byId.set(incident.id, incident);
    return [...byId.values()];
  }

  function remember(incident) {
    if (state.known) state.known.set(incident.id, incident.status);
    state.services.add(incident.service_name);
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
      if (!first && before === undefined) {
        news.push([`New incident #${incident.id} on ${incident.service_name}: ${incident.title}`, link, "new"]);
      } else if (!first && before !== incident.status) {
        news.push([`Incident #${incident.id} (${incident.title}) is now ${incident.status}`, link, "info"]);
      }
      known.set(incident.id, incident.status);
      state.services.add(incident.service_name);
    }
    state.known = known;
    // An alert storm gives a summary, not a wall of toasts for a screen reader to read out.
    const shown = news.length > MAX_TOASTS_PER_REFRESH ? news.slice(0, MAX_TOASTS_PER_REFRESH - 1) : news;
    for (const [message, link, kind] of shown) toast(message, link, kind);
    if (shown.length < news.length) {
      toast(`…and ${news.length - shown.length} more new incidents or status changes`, "#/incidents", "new");
    }
  }


  async function refresh() {
    if (state.refreshing || !state.me) return;
    state.refreshing = true;
    try {
      const incidents = await watchedIncidents();
      announce(incidents);
      state.lastRefresh = new Date();
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

  // --- incidents ------------------------------------------------------------------------

  function incidentsPage(view) {
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
      h("div", { id: "incident-table", class: "table-wrap" }),
    );
    renderIncidentRows();
  }

  function servicesDatalist() {
    return h("datalist", { id: "known-services" }, [...state.services].sort().map((name) => h("option", { value: name })));
  }

  async function listForFilters(watched) {
    const { status, service } = state.filters;
    if (!status && !service && watched) return watched;
    if (!status && !service) return watchedIncidents();
    const page = await api("GET", `/api/incidents/list/all${q({ status, service_name: service, limit: 100 })}`);
    return page.incidents;
  }

  function openFirst(incidents) {
    const rank = (incident) => (OPEN.includes(incident.status) ? 0 : 1);
    return [...incidents].sort((a, b) => rank(a) - rank(b) || b.id - a.id);
  }

  async function renderIncidentRows(watched) {
    const holder = $("#incident-table");
    if (!holder) return;
    let incidents;
    try {
      incidents = openFirst(await listForFilters(watched));
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
      h("caption", { class: "sr-only" }, "Incidents, open first"),
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
          {},
          severityDot(incident.severity),
          h("a", { href: `#/incidents/${incident.id}`, "data-focus": `title-${incident.id}` }, incident.title),
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

  function actionButtons(incident, afterwards) {
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
    for (const id of ids) state.selected.delete(id);
    if (results.length) toast(bulkSummary(action, results), null, results.every((result) => result.incident) ? "ok" : "info");
    const table = $("#incident-table");
    if (table) delete table.dataset.signature;
    renderIncidentRows();
  }

  const MAX_BULK_IDS = 100;

  function bulkSummary(action, results) {
    const done = results.filter((result) => result.incident);
    const failed = results.filter((result) => !result.incident);
    const verb = action === "acknowledge" ? "Acknowledged" : "Resolved";
    const why = failed.slice(0, 3).map((result) => `#${result.id}: ${result.error ? result.error.error : `HTTP ${result.status}`}`);
    const more = failed.length > why.length ? ` …and ${failed.length - why.length} more.` : "";
    return `${verb} ${done.length} of ${results.length} incidents.${failed.length ? ` Not ${action}d: ${why.join(" ")}${more}` : ""}`;
  }

  // --- incident detail ------------------------------------------------------------------

  async function incidentPage(view, id) {
    view.append(h("p", { class: "muted" }, "Loading…"));
    let incident;
    try {
      incident = await api("GET", `/api/incidents/${encodeURIComponent(id)}`);
    } catch (error) {
      if (error.status === 401) return;
      view.replaceChildren(
        h("p", {}, h("a", { href: "#/incidents" }, "← All incidents")),
        h("p", { class: "panel error-text", role: "alert" }, error.status === 404 ? `There is no incident #${id}.` : explain(error)),
      );
      return;
    }
    if (state.route.page !== "incidents" || state.route.id !== id) return;
    remember(incident);
    const fields = [
      ["Service", incident.service_name],
      ["Status", statusBadge(incident.status)],
      ["Severity", severityBadge(incident.severity)],
      ["Assigned to", assignee(incident)],
      ["Alerts", String(incident.alert_count)],
      ["Last alert", timeEl(incident.last_alert_at, true)],
      ["Dedup key", incident.dedup_key || "—"],
      ["Created", timeEl(incident.created_at, true)],
      ["Created by", incident.created_by || "—"],
      ["Acknowledged", timeEl(incident.acknowledged_at, true)],
      ["Acknowledged by", incident.acknowledged_by || "—"],
      ["Resolved", timeEl(incident.resolved_at, true)],
      ["Resolved by", incident.resolved_by || "—"],
      ["Escalated", timeEl(incident.escalated_at, true)],
      ["Escalation level", String(incident.escalation_level ?? 0)],
    ];
    const timeline = h(
      "ol",
      { class: "timeline", id: "timeline" },
      (incident.timeline || []).map((entry) =>
        h(
          "li",
          { class: `tl-${String(entry.kind).replace(/[^a-z_-]/gi, "")}` },
          h("div", { class: "tl-head" }, h("span", { class: "tl-kind" }, entry.kind), " ", timeEl(entry.at, true), " · ", h("span", { class: "tl-actor" }, entry.actor || "system")),
          h("p", { class: "tl-message" }, entry.message),
        ),
      ),
    );
    const rerender = () => render();
    view.replaceChildren(
      h("p", {}, h("a", { href: "#/incidents" }, "← All incidents")),
      h(
        "article",
        { class: "panel detail", id: "detail", "data-id": incident.id, "data-status": incident.status, "data-alerts": incident.alert_count, "data-assignee": incident.assigned_to || "" },
        h("div", { class: "detail-head" }, h("h1", { id: "incident-title" }, h("span", { class: "muted" }, `#${incident.id} `), incident.title), h("div", { class: "detail-actions" }, actionButtons(incident, rerender))),
        incident.description ? h("p", { class: "description", id: "incident-description" }, incident.description) : null,
        h("dl", { class: "fields" }, fields.map(([label, value]) => h("div", { class: "field-pair" }, h("dt", {}, label), h("dd", {}, value)))),
      ),
      can("respond") ? workTogether(incident) : null,
      h("section", { class: "panel", "aria-labelledby": "timeline-head" }, h("h2", { id: "timeline-head" }, "Timeline"), timeline),
    );
    // A refresh re-draws the page: keep what was being typed, and where.
    const drafts = state.drafts && state.drafts.id === String(incident.id) ? state.drafts : null;
    state.drafts = null;
    for (const [field, value] of Object.entries(drafts ? drafts.values : {})) if ($(`#${field}`)) $(`#${field}`).value = value;
    const focus = state.focusAfterRender || (drafts && drafts.focused);
    state.focusAfterRender = null;
    if (focus && $(`#${focus}`)) $(`#${focus}`).focus({ preventScroll: true });
  }

  // Working together: a note for the timeline (any incident), a new assignee (open ones).
  const MAX_NOTE_LENGTH = 4096;

  function workTogether(incident) {
    const noteText = h("textarea", { id: "note-text", name: "text", rows: 3, required: true, maxlength: MAX_NOTE_LENGTH, "aria-describedby": "note-help" });
    const noteForm = h(
      "form",
      { class: "stack-form", id: "note-form", "aria-labelledby": "note-head" },
      h("h2", { id: "note-head" }, "Add a note"),
      h("label", { for: "note-text" }, "Note"),
      noteText,
      h("p", { id: "note-help", class: "muted small" }, `Up to ${MAX_NOTE_LENGTH} characters, shown in the timeline under your name. Notes notify nobody.`),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add note")),
    );
    noteForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!noteText.value.trim()) {
        notice("Write something in the note first.");
        noteText.focus();
        return;
      }
      const path = `/api/incidents/${encodeURIComponent(incident.id)}/notes`;
      if (await submitting(noteForm, () => mutate("POST", path, { text: noteText.value }, `Added a note to incident #${incident.id}`))) {
        noteText.value = "";
        state.focusAfterRender = "note-text";
        render();
      }
    });
    const forms = [noteForm];
    if (OPEN.includes(incident.status)) {
      const user = h("input", { id: "reassign-user", name: "user", required: true, maxlength: 128, autocomplete: "off", "aria-describedby": "reassign-help" });
      const reassignForm = h(
        "form",
        { class: "stack-form", id: "reassign-form", "aria-labelledby": "reassign-head" },
        h("h2", { id: "reassign-head" }, "Reassign"),
        h("label", { for: "reassign-user" }, "Reassign to"),
        user,
        h("p", { id: "reassign-help", class: "muted small" }, "The service's channels announce the new assignee."),
        h("div", { class: "actions" }, h("button", { type: "submit" }, "Reassign")),
      );
      reassignForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const name = user.value.trim();
        if (!name) return;
        const path = `/api/incidents/${encodeURIComponent(incident.id)}/reassign`;
        if (await submitting(reassignForm, () => mutate("POST", path, { user: name }, `Incident #${incident.id} is now assigned to ${name}`))) {
          user.value = "";
          state.focusAfterRender = "reassign-user";
          render();
        }
      });
      forms.push(reassignForm);
    }
    return h("section", { class: "panel together", id: "together", "aria-label": "Work on this incident" }, forms);
  }

  const DRAFT_FIELDS = ["note-text", "reassign-user"];

  // Called before the view is cleared: what was typed into the detail page's forms.
  function keepDrafts() {
    const detail = $("#detail");
    if (!detail) return;
    const values = {};
    for (const field of DRAFT_FIELDS) {
      const input = $(`#${field}`);
      if (input && input.value) values[field] = input.value;
    }
    const focused = DRAFT_FIELDS.includes(document.activeElement && document.activeElement.id) ? document.activeElement.id : null;
    state.drafts = { id: detail.dataset.id, values, focused };
  }

  async function submitting(form, send) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    try {
      return await send();
    } finally {
      button.disabled = false;
    }
  }

  // --- trigger --------------------------------------------------------------------------

  function triggerPage(view) {
    const services = state.me.services;
    const service = services
      ? h("select", { id: "t-service", name: "service_name", required: true }, services.map((name) => h("option", { value: name }, name)))
      : h("input", { id: "t-service", name: "service_name", required: true, maxlength: 128, list: "known-services", autocomplete: "off" });
    const severity = h("select", { id: "t-severity", name: "severity" }, SEVERITIES.map((name) => h("option", { value: name }, name)));
    const result = h("div", { id: "trigger-result", "aria-live": "polite" });
    const form = h(
      "form",
      { class: "panel form-grid", id: "trigger-form" },
      h("div", { class: "field" }, h("label", { for: "t-service" }, "Service"), service, servicesDatalist()),
      h("div", { class: "field" }, h("label", { for: "t-severity" }, "Severity"), severity),
      h("div", { class: "field wide" }, h("label", { for: "t-title" }, "Title"), h("input", { id: "t-title", name: "title", required: true, maxlength: 1024 })),
      h(
        "div",
        { class: "field wide" },
        h("label", { for: "t-description" }, "Description ", h("span", { class: "muted" }, "(optional)")),
        h("textarea", { id: "t-description", name: "description", rows: 4 }),
      ),
      h(
        "div",
        { class: "field wide" },
        h("label", { for: "t-dedup" }, "Dedup key ", h("span", { class: "muted" }, "(optional: repeats with the same key fold into the open incident)")),
        h("input", { id: "t-dedup", name: "dedup_key", maxlength: 255, autocomplete: "off" }),
      ),
      h("div", { class: "actions wide" }, h("button", { type: "submit", class: "primary" }, "Trigger incident")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        service_name: form.elements.service_name.value.trim(),
        title: form.elements.title.value.trim(),
        severity: severity.value,
      };
      const description = form.elements.description.value;
      const dedup = form.elements.dedup_key.value.trim();
      if (description.trim()) body.description = description;
      if (dedup) body.dedup_key = dedup;
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      result.replaceChildren();
      try {
        const answer = await api("POST", "/api/incidents/trigger", body);
        state.services.add(body.service_name);
        const link = can("read") ? h("a", { href: `#/incidents/${answer.id}`, id: "trigger-link" }, `incident #${answer.id}`) : `incident #${answer.id}`;
        if (answer.deduplicated) {
          result.append(
            h("p", { class: "result folded", id: "trigger-outcome" }, "Folded into the open ", link, ` on ${answer.service_name}: it has now had ${answer.alert_count} alerts. No new incident was opened.`),
          );
        } else {
          if (state.known) state.known.set(answer.id, answer.status);
          result.append(
            h("p", { class: "result created", id: "trigger-outcome" }, "Opened ", link, ` on ${answer.service_name}, `, answer.assigned_to ? `assigned to ${answer.assigned_to}` : UNASSIGNED, "."),
          );
        }
      } catch (error) {
        if (error.status === 401) return;
        result.append(h("p", { class: "result error-text", role: "alert" }, explain(error)));
      } finally {
        button.disabled = false;
      }
    });
    view.append(
      h("div", { class: "page-head" }, h("h1", {}, "Trigger an incident"), h("p", { class: "muted small" }, "What a monitoring tool does through POST /api/incidents/trigger.")),
      form,
      result,
    );
  }

  // --- on-call --------------------------------------------------------------------------

  async function allPages(path, field) {
    const items = [];
    let cursor = null;
    for (let page = 0; page < 20; page += 1) {
      const separator = path.includes("?") ? "&" : "?";
      const data = await api("GET", `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      items.push(...data[field]);
      cursor = data.next_cursor;
      if (!cursor) break;
    }
    return items;
  }

  function localInput(date) {
    const pad = (n) => String(n).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
  }

  async function oncallPage(view) {
    view.append(h("div", { class: "page-head" }, h("h1", {}, "On-call")), h("p", { class: "muted", id: "oncall-loading" }, "Loading…"));
    let shifts;
    let levels;
    let serviceStats;
    let rotations;
    try {
      [shifts, levels, serviceStats, rotations] = await Promise.all([
        allPages("/api/oncall/schedules", "schedules"),
        allPages("/api/escalation/levels", "levels"),
        allPages("/api/metrics/services", "services"),
        allPages("/api/oncall/rotations", "rotations"),
      ]);
    } catch (error) {
      if (error.status !== 401) view.append(h("p", { class: "panel error-text", role: "alert" }, explain(error)));
      return;
    }
    const names = new Set([...shifts, ...levels, ...serviceStats, ...rotations].map((entry) => entry.service_name));
    for (const name of names) state.services.add(name);
    const services = [...names].sort();
    let current;
    let policies;
    let schedules;
    const withLevels = services.filter((name) => levels.some((level) => level.service_name === name));
    try {
      [current, policies, schedules] = await Promise.all([
        Promise.all(services.map((name) => api("GET", `/api/oncall/current${q({ service_name: name })}`))),
        Promise.all(withLevels.map((name) => api("GET", `/api/escalation/policies/${encodeURIComponent(name)}`))),
        // The final schedule of the next 14 days (the API's default span).
        Promise.all(services.map((name) => api("GET", `/api/oncall/shifts${q({ service_name: name })}`))),
      ]);
    } catch (error) {
      if (error.status !== 401) view.append(h("p", { class: "panel error-text", role: "alert" }, explain(error)));
      return;
    }
    if (state.route.page !== "oncall") return;
    const admin = can("manage");
    const reload = () => render();
    const now = Date.now();

    const cards = h(
      "div",
      { class: "cards", id: "oncall-now" },
      current.length
        ? current.map((entry) =>
            h(
              "section",
              { class: `card ${entry.user ? "" : "nobody"}`, "data-service": entry.service_name, "aria-label": `On call for ${entry.service_name}` },
              h("h3", {}, entry.service_name),
              h("p", { class: "oncall-user" }, entry.user || "Nobody on call"),
              entry.user
                ? h("p", { class: "muted small" }, sourceLabel(entry.source), entry.until ? [" until ", timeEl(entry.until)] : null)
                : h("p", { class: "muted small" }, `New incidents for this service are ${UNASSIGNED}.`),
            ),
          )
        : h("p", { class: "muted" }, "No services yet: add a shift below."),
    );

    const shiftRows = [...shifts]
      .sort((a, b) => a.service_name.localeCompare(b.service_name) || a.start_time.localeCompare(b.start_time))
      .map((shift) => {
        const started = new Date(shift.start_time).getTime() <= now;
        return h(
          "tr",
          { "data-id": shift.id },
          h("td", { "data-label": "Service" }, shift.service_name),
          h("td", { "data-label": "Who" }, shift.user),
          h("td", { "data-label": "Kind" }, shift.is_override ? h("span", { class: "badge override" }, "Override") : "Shift"),
          h("td", { "data-label": "From" }, timeEl(shift.start_time)),
          h("td", { "data-label": "Until" }, timeEl(shift.end_time)),
          h("td", { "data-label": "When" }, h("span", { class: `badge ${started ? "now" : "upcoming"}` }, started ? "Current" : "Upcoming")),
          admin
            ? removeCell(
                `Remove ${shift.is_override ? "override" : "shift"} of ${shift.user} on ${shift.service_name}`,
                `/api/oncall/schedules/${encodeURIComponent(shift.id)}`,
                `Removed ${shift.user}'s ${shift.is_override ? "override" : "shift"} on ${shift.service_name}`,
                reload,
              )
            : null,
        );
      });
    const shiftsTable = shiftRows.length
      ? h(
          "table",
          { class: "grid", id: "shifts" },
          h("caption", { class: "sr-only" }, "Current and upcoming shifts"),
          h("thead", {}, h("tr", {}, ["Service", "Who", "Kind", "From", "Until", "When"].map((l) => h("th", { scope: "col" }, l)), admin ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")) : null)),
          h("tbody", {}, shiftRows),
        )
      : h("p", { class: "muted" }, "No current or upcoming shifts.");

    const levelRows = [...levels]
      .sort((a, b) => a.service_name.localeCompare(b.service_name) || a.level - b.level)
      .map((level) =>
        h(
          "tr",
          { "data-id": level.id },
          h("td", { "data-label": "Service" }, level.service_name),
          h("td", { "data-label": "Level", class: "num" }, String(level.level)),
          h("td", { "data-label": "Pages" }, pagesText(level)),
          h("td", { "data-label": "Wait", class: "num" }, `${level.wait_minutes} min`),
          h("td", { "data-label": "Channel" }, level.notification_channel || "—"),
          admin
            ? removeCell(
                `Remove escalation level ${level.level} of ${level.service_name}`,
                `/api/escalation/levels/${encodeURIComponent(level.id)}`,
                `Removed level ${level.level} of ${level.service_name}`,
                reload,
              )
            : null,
        ),
      );
    const levelsTable = levelRows.length
      ? h(
          "table",
          { class: "grid", id: "levels" },
          h("caption", { class: "sr-only" }, "Escalation levels"),
          h("thead", {}, h("tr", {}, ["Service", "Level", "Pages", "Wait", "Channel"].map((l) => h("th", { scope: "col" }, l)), admin ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")) : null)),
          h("tbody", {}, levelRows),
        )
      : h("p", { class: "muted" }, "No escalation levels: unacknowledged incidents stay with whoever is on call.");
    const policiesTable = policies.length
      ? h(
          "table",
          { class: "grid", id: "policies" },
          h("caption", { class: "sr-only" }, "Escalation policy of each service"),
          h("thead", {}, h("tr", {}, ["Service", "Climb, in order", "Repeat"].map((l) => h("th", { scope: "col" }, l)))),
          h(
            "tbody",
            {},
            policies.map((policy) =>
              h(
                "tr",
                { "data-service": policy.service_name },
                h("td", { "data-label": "Service" }, policy.service_name),
                h("td", { "data-label": "Climb, in order" }, h("ol", { class: "climb" }, policy.levels.map((level) => h("li", {}, `Level ${level.level}: ${pagesText(level)}, wait ${level.wait_minutes} min`)))),
                h("td", { "data-label": "Repeat" }, repeatText(policy.repeat)),
              ),
            ),
          ),
        )
      : null;

    view.replaceChildren(
      h("div", { class: "page-head" }, h("h1", {}, "On-call")),
      h("section", { "aria-labelledby": "now-head" }, h("h2", { id: "now-head" }, "On call now"), cards),
      h("section", { class: "panel", "aria-labelledby": "schedule-head" }, h("h2", { id: "schedule-head" }, "The next two weeks"), finalSchedules(schedules)),
      h("section", { class: "panel", "aria-labelledby": "rotations-head" }, h("h2", { id: "rotations-head" }, "Rotations"), rotationsTable(rotations, admin, reload), admin ? rotationForm(reload) : null),
      h("section", { class: "panel", "aria-labelledby": "shifts-head" }, h("h2", { id: "shifts-head" }, "Current and upcoming shifts and overrides"), h("div", { class: "table-wrap" }, shiftsTable), admin ? shiftForm(reload) : null),
      h("section", { class: "panel", "aria-labelledby": "levels-head" }, h("h2", { id: "levels-head" }, "Escalation policies"), policiesTable ? h("div", { class: "table-wrap" }, policiesTable) : null, h("h3", {}, "Escalation levels"), h("div", { class: "table-wrap" }, levelsTable), admin ? levelForm(levels, reload) : null, admin ? policyForm(reload) : null),
    );
  }

  function sourceLabel(source) {
    if (!source) return "Shift";
    if (source.kind === "override") return h("span", { class: "badge override" }, "Override");
    if (source.kind === "rotation") return `Rotation ${source.name} (layer ${source.layer})`;
    return "Shift";
  }

  // Each service's final schedule: a bar whose segments are as long as the time they
  // cover (gaps stand out), and the same intervals as a table for reading and for
  // screen readers.
  function finalSchedules(schedules) {
    if (!schedules.length) return h("p", { class: "muted" }, "No services yet.");
    return schedules.map((schedule) => {
      const from = new Date(schedule.from).getTime();
      const span = new Date(schedule.to).getTime() - from;
      const gaps = schedule.intervals.filter((interval) => interval.gap).length;
      const segments = schedule.intervals.map((interval) => {
        const start = new Date(interval.start).getTime();
        const length = new Date(interval.end).getTime() - start;
        const who = interval.gap ? "Nobody on call" : interval.user;
        const segment = h(
          "span",
          { class: `segment ${interval.gap ? "gap" : `tone-${toneOf(interval.user)}`}`, title: `${who}: ${when(interval.start)} – ${when(interval.end)}` },
          length / span > 0.06 ? who : "",
        );
        // Through the CSSOM: the page's CSP allows no inline style attributes.
        segment.style.flexGrow = String(Math.max(length / span, 0.0001));
        return segment;
      });
      const rows = schedule.intervals.map((interval) =>
        h(
          "tr",
          { class: interval.gap ? "gap-row" : "" },
          h("td", { "data-label": "From" }, timeEl(interval.start)),
          h("td", { "data-label": "Until" }, timeEl(interval.end)),
          h("td", { "data-label": "Who" }, interval.gap ? h("strong", { class: "error-text" }, "Nobody (gap)") : interval.user),
          h("td", { "data-label": "Because of" }, interval.gap ? "—" : sourceLabel(interval.source)),
        ),
      );
      return h(
        "div",
        { class: "schedule", "data-service": schedule.service_name },
        h(
          "h3",
          {},
          schedule.service_name,
          " ",
          gaps ? h("span", { class: "badge gap-badge" }, `${gaps} gap${gaps === 1 ? "" : "s"}`) : h("span", { class: "badge now" }, "No gaps"),
          " ",
          h("button", { type: "button", class: "small", "aria-label": `Download the schedule of ${schedule.service_name} as a calendar file`, onclick: () => downloadCalendar(schedule.service_name) }, "Download .ics"),
        ),
        h("div", { class: "bar", "aria-hidden": "true" }, segments),
        h(
          "details",
          {},
          h("summary", {}, `${schedule.intervals.length} intervals from `, timeEl(schedule.from), " to ", timeEl(schedule.to)),
          h(
            "div",
            { class: "table-wrap" },
            h(
              "table",
              { class: "grid schedule-table" },
              h("caption", { class: "sr-only" }, `Final schedule of ${schedule.service_name}`),
              h("thead", {}, h("tr", {}, ["From", "Until", "Who", "Because of"].map((l) => h("th", { scope: "col" }, l)))),
              h("tbody", {}, rows),
            ),
          ),
        ),
      );
    });
  }

  // The calendar needs the key in a header, so it is fetched and handed to the
  // browser as a file rather than linked.
  async function downloadCalendar(service) {
    try {
      const key = sessionStorage.getItem(KEY_STORAGE);
      const response = await fetch(`api/oncall/shifts.ics${q({ service_name: service })}`, { headers: { Authorization: `Bearer ${key}` }, cache: "no-store", credentials: "omit" });
      if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
      const link = h("a", { href: URL.createObjectURL(await response.blob()), download: `oncall-${service}.ics` });
      document.body.append(link);
      link.click();
      link.remove();
      URL.revokeObjectURL(link.href);
    } catch (error) {
      notice(error instanceof ApiError ? explain(error) : "The calendar could not be downloaded.");
    }
  }

  // A stable colour per person, so one person's shifts look alike across the bars.
  function toneOf(user) {
    let hash = 0;
    for (const char of user) hash = (hash * 31 + char.codePointAt(0)) % 6;
    return hash;
  }

  function rotationText(rotation) {
    const every = `every ${rotation.shift_length === 1 ? "" : `${rotation.shift_length} `}${rotation.shift_length === 1 ? rotation.shift_unit.replace(/s$/, "") : rotation.shift_unit}`;
    const day = rotation.handoff_weekday ? ` on ${rotation.handoff_weekday}s` : "";
    return `${every}, at ${rotation.handoff_time}${day} (${rotation.time_zone}), from ${rotation.start_date}`;
  }

  function windowsText(rotation) {
    if (!rotation.restrictions.length) return "always";
    return rotation.restrictions.map((w) => `${w.weekdays.map((d) => d.slice(0, 3)).join(", ")} ${w.start}–${w.end}`).join("; ");
  }

  function rotationsTable(rotations, admin, reload) {
    if (!rotations.length) return h("p", { class: "muted" }, "No rotations: only shifts and overrides decide who is on call.");
    const rows = [...rotations]
      .sort((a, b) => a.service_name.localeCompare(b.service_name) || b.layer - a.layer)
      .map((rotation) =>
        h(
          "tr",
          { "data-id": rotation.id },
          h("td", { "data-label": "Service" }, rotation.service_name),
          h("td", { "data-label": "Layer", class: "num" }, String(rotation.layer)),
          h("td", { "data-label": "Name" }, rotation.name),
          h("td", { "data-label": "In turn" }, rotation.participants.join(" → ")),
          h("td", { "data-label": "Handoff" }, rotationText(rotation)),
          h("td", { "data-label": "Active" }, windowsText(rotation)),
          admin
            ? removeCell(`Remove rotation ${rotation.name} of ${rotation.service_name}`, `/api/oncall/rotations/${encodeURIComponent(rotation.id)}`, `Removed rotation ${rotation.name} of ${rotation.service_name}`, reload)
            : null,
        ),
      );
    return h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "grid", id: "rotations" },
        h("caption", { class: "sr-only" }, "Rotations, higher layers first"),
        h("thead", {}, h("tr", {}, ["Service", "Layer", "Name", "In turn", "Handoff", "Active"].map((l) => h("th", { scope: "col" }, l)), admin ? h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")) : null)),
        h("tbody", {}, rows),
      ),
    );
  }

  const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

  function rotationForm(reload) {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    const today = localInput(new Date()).slice(0, 10);
    const dayBoxes = WEEKDAYS.map((day) =>
      h("span", { class: "check-field" }, h("input", { id: `r-day-${day}`, name: "window_day", value: day, type: "checkbox" }), h("label", { for: `r-day-${day}` }, day.slice(0, 3))),
    );
    const form = h(
      "form",
      { class: "form-grid subform", id: "rotation-form", "aria-labelledby": "rotation-form-head" },
      h("h3", { id: "rotation-form-head", class: "wide" }, "Add a rotation"),
      h("div", { class: "field" }, h("label", { for: "r-service" }, "Service"), h("input", { id: "r-service", name: "service_name", required: true, maxlength: 128, list: "known-services", autocomplete: "off" })),
      h("div", { class: "field" }, h("label", { for: "r-name" }, "Name"), h("input", { id: "r-name", name: "name", required: true, maxlength: 128, autocomplete: "off" })),
      h("div", { class: "field" }, h("label", { for: "r-layer" }, "Layer (higher wins)"), h("input", { id: "r-layer", name: "layer", type: "number", min: 1, max: 100, value: "1", required: true })),
      h("div", { class: "field" }, h("label", { for: "r-people" }, "Participants, in turn"), h("input", { id: "r-people", name: "participants", required: true, maxlength: 13000, autocomplete: "off", placeholder: "alice, bob, carol" })),
      h("div", { class: "field" }, h("label", { for: "r-length" }, "Shift length"), h("input", { id: "r-length", name: "shift_length", type: "number", min: 1, max: 1000, value: "1", required: true })),
      h("div", { class: "field" }, h("label", { for: "r-unit" }, "Unit"), h("select", { id: "r-unit", name: "shift_unit" }, ["weeks", "days", "hours"].map((unit) => h("option", { value: unit }, unit)))),
      h("div", { class: "field" }, h("label", { for: "r-time" }, "Handoff time (local to the zone)"), h("input", { id: "r-time", name: "handoff_time", type: "time", value: "09:00", required: true })),
      h("div", { class: "field" }, h("label", { for: "r-weekday" }, "Handoff day (weekly)"), h("select", { id: "r-weekday", name: "handoff_weekday" }, h("option", { value: "" }, "the start date's"), WEEKDAYS.map((day) => h("option", { value: day }, day)))),
      h("div", { class: "field" }, h("label", { for: "r-zone" }, "Time zone (IANA)"), h("input", { id: "r-zone", name: "time_zone", required: true, maxlength: 64, value: zone, autocomplete: "off" })),
      h("div", { class: "field" }, h("label", { for: "r-start" }, "Start date"), h("input", { id: "r-start", name: "start_date", type: "date", value: today, required: true })),
      h(
        "fieldset",
        { class: "field wide" },
        h("legend", {}, "Only on these days, between these times (optional; leave the days unticked for always)"),
        h("div", { class: "days" }, dayBoxes),
        h("label", { for: "r-from" }, "From"),
        h("input", { id: "r-from", name: "window_start", type: "time", value: "09:00" }),
        h("label", { for: "r-to" }, "Until"),
        h("input", { id: "r-to", name: "window_end", type: "time", value: "17:00" }),
      ),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add rotation")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const elements = form.elements;
      const body = {
        service_name: elements.service_name.value.trim(),
        name: elements.name.value.trim(),
        layer: Number(elements.layer.value),
        participants: elements.participants.value.split(",").map((p) => p.trim()).filter(Boolean),
        shift_length: Number(elements.shift_length.value),
        shift_unit: elements.shift_unit.value,
        handoff_time: elements.handoff_time.value.slice(0, 5),
        time_zone: elements.time_zone.value.trim(),
        start_date: elements.start_date.value,
      };
      if (body.shift_unit === "weeks" && elements.handoff_weekday.value) body.handoff_weekday = elements.handoff_weekday.value;
      const days = [...form.querySelectorAll('input[name="window_day"]:checked')].map((box) => box.value);
      if (days.length) body.restrictions = [{ weekdays: days, start: elements.window_start.value.slice(0, 5), end: elements.window_end.value.slice(0, 5) }];
      if (await mutate("POST", "/api/oncall/rotations", body, `Added rotation ${body.name} on ${body.service_name}`)) reload();
    });
    return form;
  }

  // Whom a level pages, as text: users, and whoever is on call for a service at the step.
  function pagesText(level) {
    const targets = level.targets || [];
    if (!targets.length) return "nobody named (channels only)";
    return targets.map((target) => (target.oncall !== undefined ? `on call for ${target.oncall}` : target.user)).join(", ");
  }

  function repeatText(repeat) {
    if (!repeat) return "once through";
    return `${repeat} more round${repeat === 1 ? "" : "s"} (${repeat + 1} in all)`;
  }

  // "bob, oncall:db" -> [{user: "bob"}, {oncall: "db"}]
  function parseTargets(text) {
    return text
      .split(",")
      .map((part) => part.trim())
      .filter(Boolean)
      .map((part) => (part.toLowerCase().startsWith("oncall:") ? { oncall: part.slice("oncall:".length).trim() } : { user: part }));
  }

  // A table cell with a Remove button that DELETEs `path`, then redraws the page.
  function removeCell(label, path, success, reload) {
    return h(
      "td",
      { class: "row-actions" },
      h(
        "button",
        {
          type: "button",
          class: "danger small",
          "aria-label": label,
          onclick: async (event) => {
            event.currentTarget.disabled = true;
            await mutate("DELETE", path, undefined, success);
            reload();
          },
        },
        "Remove",
      ),
    );
  }

  async function mutate(method, path, body, success) {
    try {
      const answer = await api(method, path, body);
      notice(null);
      toast(success, null, "ok");
      return answer || true;
    } catch (error) {
      if (error.status !== 401) notice(explain(error));
      return null;
    }
  }

  function shiftForm(reload) {
    const start = new Date();
    start.setSeconds(0, 0);
    const end = new Date(start.getTime() + 8 * 3600 * 1000);
    const form = h(
      "form",
      { class: "form-grid subform", id: "shift-form", "aria-labelledby": "shift-form-head" },
      h("h3", { id: "shift-form-head", class: "wide" }, "Add a shift or override"),
      h("div", { class: "field" }, h("label", { for: "s-service" }, "Service"), h("input", { id: "s-service", name: "service_name", required: true, maxlength: 128, list: "known-services", autocomplete: "off" }), servicesDatalist()),
      h("div", { class: "field" }, h("label", { for: "s-user" }, "User"), h("input", { id: "s-user", name: "user", required: true, maxlength: 128, autocomplete: "off" })),
      h("div", { class: "field" }, h("label", { for: "s-start" }, "From (your local time)"), h("input", { id: "s-start", name: "start_time", type: "datetime-local", required: true, value: localInput(start) })),
      h("div", { class: "field" }, h("label", { for: "s-end" }, "Until (your local time)"), h("input", { id: "s-end", name: "end_time", type: "datetime-local", required: true, value: localInput(end) })),
      h("div", { class: "field check-field" }, h("input", { id: "s-override", name: "is_override", type: "checkbox" }), h("label", { for: "s-override" }, "Override (takes precedence over regular shifts)")),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Add")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const startAt = new Date(form.elements.start_time.value);
      const endAt = new Date(form.elements.end_time.value);
      if (Number.isNaN(startAt.getTime()) || Number.isNaN(endAt.getTime())) {
        notice("Enter both times.");
        return;
      }
      const body = {
        service_name: form.elements.service_name.value.trim(),
        user: form.elements.user.value.trim(),
        start_time: startAt.toISOString(),
        end_time: endAt.toISOString(),
        is_override: form.elements.is_override.checked,
      };
      const kind = body.is_override ? "override" : "shift";
      if (await mutate("POST", "/api/oncall/schedules", body, `Added ${body.user}'s ${kind} on ${body.service_name}`)) reload();
    });
    return form;
  }

  function levelForm(levels, reload) {
    const form = h(
      "form",
      { class: "form-grid subform", id: "level-form", "aria-labelledby": "level-form-head" },
      h("h3", { id: "level-form-head", class: "wide" }, "Set an escalation level ", h("span", { class: "muted small hint" }, "(a level that already exists for the service is replaced)")),
      h("div", { class: "field" }, h("label", { for: "l-service" }, "Service"), h("input", { id: "l-service", name: "service_name", required: true, maxlength: 128, list: "known-services", autocomplete: "off" })),
      h("div", { class: "field" }, h("label", { for: "l-level" }, "Level"), h("input", { id: "l-level", name: "level", type: "number", min: 1, max: 100, value: "1", required: true })),
      h("div", { class: "field" }, h("label", { for: "l-user" }, "User ", h("span", { class: "muted" }, "(optional)")), h("input", { id: "l-user", name: "user", maxlength: 128, autocomplete: "off" })),
      h(
        "div",
        { class: "field" },
        h("label", { for: "l-targets" }, "Targets ", h("span", { class: "muted" }, "(optional)")),
        h("input", { id: "l-targets", name: "targets", maxlength: 1400, autocomplete: "off", placeholder: "bob, oncall:db", "aria-describedby": "l-targets-help" }),
        h("p", { id: "l-targets-help", class: "muted small" }, "Instead of one user: up to 10 names, comma-separated; oncall:<service> is whoever is on call for it then."),
      ),
      h("div", { class: "field" }, h("label", { for: "l-wait" }, "Wait (minutes, optional)"), h("input", { id: "l-wait", name: "wait_minutes", type: "number", min: 1, max: 1440, "aria-describedby": "l-wait-help" }), h("p", { id: "l-wait-help", class: "muted small" }, "How long to wait for an acknowledgement before the next step.")),
      h("div", { class: "field" }, h("label", { for: "l-channel" }, "Channel"), h("input", { id: "l-channel", name: "notification_channel", maxlength: 128, value: "log" })),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Set level")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {
        service_name: form.elements.service_name.value.trim(),
        level: Number(form.elements.level.value),
      };
      const user = form.elements.user.value.trim();
      const channel = form.elements.notification_channel.value.trim();
      const targets = parseTargets(form.elements.targets.value);
      const wait = form.elements.wait_minutes.value.trim();
      if (user) body.user = user;
      if (targets.length) body.targets = targets;
      if (wait) body.wait_minutes = Number(wait);
      if (channel) body.notification_channel = channel;
      const existing = levels.find((level) => level.service_name === body.service_name && level.level === body.level);
      if (existing) {
        try {
          await api("DELETE", `/api/escalation/levels/${encodeURIComponent(existing.id)}`);
        } catch (error) {
          if (error.status !== 401) notice(explain(error));
          return;
        }
      }
      if (await mutate("POST", "/api/escalation/levels", body, `Set level ${body.level} of ${body.service_name}`)) reload();
    });
    return form;
  }

  function policyForm(reload) {
    const form = h(
      "form",
      { class: "form-grid subform", id: "policy-form", "aria-labelledby": "policy-form-head" },
      h("h3", { id: "policy-form-head", class: "wide" }, "Set how often a policy repeats"),
      h("div", { class: "field" }, h("label", { for: "p-service" }, "Service"), h("input", { id: "p-service", name: "service_name", required: true, maxlength: 128, list: "known-services", autocomplete: "off" })),
      h("div", { class: "field" }, h("label", { for: "p-repeat" }, "Repeat after the last level (rounds)"), h("input", { id: "p-repeat", name: "repeat", type: "number", min: 0, max: 9, value: "0", required: true })),
      h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Set repeat")),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const service = form.elements.service_name.value.trim();
      const body = { repeat: Number(form.elements.repeat.value) };
      if (await mutate("PUT", `/api/escalation/policies/${encodeURIComponent(service)}`, body, `Set the policy of ${service}: ${repeatText(body.repeat)}`)) reload();
    });
    return form;
  }

  // --- metrics ------------------------------------------------------------------------

  async function metricsPage(view) {
    view.append(h("div", { class: "page-head" }, h("h1", {}, "Metrics")), h("p", { class: "muted" }, "Loading…"));
    let overall;
    let services;
    try {
      [overall, services] = await Promise.all([api("GET", "/api/metrics"), allPages("/api/metrics/services", "services")]);
    } catch (error) {
      if (error.status !== 401) view.append(h("p", { class: "panel error-text", role: "alert" }, explain(error)));
      return;
    }
    if (state.route.page !== "metrics") return;
    for (const entry of services) state.services.add(entry.service_name);
    const tile = (label, value, id, hint) =>
      h("div", { class: "tile", id }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value), hint ? h("div", { class: "tile-hint muted small" }, hint) : null);
    const tiles = h(
      "div",
      { class: "tiles", id: "metrics-overall" },
      tile("MTTA", duration(overall.mtta_seconds), "mtta", "mean time to acknowledge"),
      tile("MTTR", duration(overall.mttr_seconds), "mttr", "mean time to resolve"),
      tile("Incidents", String(overall.total_incidents), "total"),
      tile("Open", String(overall.open_incidents ?? "—"), "open"),
      tile("Resolved", String(overall.resolved_incidents), "resolved"),
      tile("Escalated", String(overall.escalated_incidents), "escalated"),
      tile("Alerts", String(overall.alerts), "alerts", "including folded repeats"),
    );
    const columns = [
      ["Service", (s) => s.service_name],
      ["Incidents", (s) => String(s.total_incidents)],
      ["Open", (s) => String(s.open_incidents ?? "—")],
      ["Resolved", (s) => String(s.resolved_incidents)],
      ["Escalated", (s) => String(s.escalated_incidents)],
      ["Alerts", (s) => String(s.alerts)],
      ["MTTA", (s) => duration(s.mtta_seconds)],
      ["MTTR", (s) => duration(s.mttr_seconds)],
    ];
    const table = services.length
      ? h(
          "table",
          { class: "grid", id: "metrics-services" },
          h("caption", { class: "sr-only" }, "Metrics per service"),
          h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", { scope: "col" }, label)))),
          h("tbody", {}, services.map((s) => h("tr", {}, columns.map(([label, value], i) => h("td", { "data-label": label, class: i ? "num" : "" }, value(s)))))),
        )
      : h("p", { class: "muted" }, "No incidents yet.");
    view.replaceChildren(
      h("div", { class: "page-head" }, h("h1", {}, "Metrics")),
      tiles,
      h("section", { class: "panel", "aria-labelledby": "chart-head" }, h("h2", { id: "chart-head" }, "Response times per service"), responseChart(services)),
      h("section", { class: "panel", "aria-labelledby": "counts-head" }, h("h2", { id: "counts-head" }, "Incidents per service"), countsChart(services)),
      h("section", { class: "panel", "aria-labelledby": "per-service-head" }, h("h2", { id: "per-service-head" }, "Per service"), h("div", { class: "table-wrap" }, table)),
    );
  }

  // Horizontal grouped bars (MTTA and MTTR per service), drawn as SVG by hand.
  function responseChart(services) {
    const rows = services.filter((s) => s.mtta_seconds != null || s.mttr_seconds != null);
    if (!rows.length) return h("p", { class: "muted" }, "No resolved incidents yet: MTTA and MTTR are measured over resolved incidents.");
    const series = [
      ["MTTA", "mtta_seconds", "bar-mtta"],
      ["MTTR", "mttr_seconds", "bar-mttr"],
    ];
    const max = Math.max(1, ...rows.flatMap((s) => series.map(([, field]) => s[field] || 0)));
    return barChart(
      rows,
      series,
      max,
      duration,
      `Mean time to acknowledge and to resolve per service: ${rows.map((s) => `${s.service_name} MTTA ${duration(s.mtta_seconds)}, MTTR ${duration(s.mttr_seconds)}`).join("; ")}`,
      "response-chart",
    );
  }

  function countsChart(services) {
    if (!services.length) return h("p", { class: "muted" }, "No incidents yet.");
    const rows = services.map((s) => ({ ...s, closed: s.resolved_incidents, open: s.open_incidents ?? Math.max(0, s.total_incidents - s.resolved_incidents) }));
    const series = [
      ["Open", "open", "bar-open"],
      ["Resolved", "closed", "bar-resolved"],
    ];
    const max = Math.max(1, ...rows.map((s) => s.open + s.closed));
    return barChart(rows, series, max, (n) => String(n), `Incidents per service: ${rows.map((s) => `${s.service_name} ${s.open} open, ${s.closed} resolved`).join("; ")}`, "counts-chart", true);
  }

  // Bars drawn to the width of the page: labels on the left on a wide screen, above each
  // group on a phone, so the text keeps its size instead of being scaled down.
  function barChart(rows, series, max, label, summary, id, stacked = false) {
    const view = $("#view");
    const style = getComputedStyle(view);
    const inner = view.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const available = (inner || 760) - 42; // the panel's padding and border
    const width = Math.max(280, Math.min(760, available));
    const narrow = width < 520;
    const labelWidth = narrow ? 0 : 160;
    const headroom = narrow ? 18 : 0; // the label line above each group on a phone
    const valueRoom = stacked ? (narrow ? 8 : 170) : 64;
    const plot = Math.max(40, width - labelWidth - valueRoom - 4);
    const barHeight = stacked ? 20 : 14;
    const groupHeight = headroom + (stacked ? barHeight + 14 : series.length * (barHeight + 4) + 14);
    const top = 34;
    const height = top + rows.length * groupHeight + 4;
    const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": summary, class: "chart", id });
    chart.append(svg("title", {}, summary));
    let x = labelWidth;
    for (const [name, , cls] of series) {
      chart.append(svg("rect", { x, y: 8, width: 12, height: 12, rx: 2, class: cls }));
      chart.append(svg("text", { x: x + 18, y: 18, class: "legend" }, name));
      x += 100;
    }
    rows.forEach((row, index) => {
      const y0 = top + index * groupHeight;
      const barsTop = y0 + headroom;
      const limit = narrow ? 40 : 22;
      const name = row.service_name.length > limit ? `${row.service_name.slice(0, limit - 1)}…` : row.service_name;
      const counts = stacked ? `${row.open} open · ${row.closed} resolved` : "";
      if (narrow) {
        chart.append(svg("text", { x: 0, y: y0 + 13, class: "axis-label" }, name, stacked ? svg("tspan", { class: "value", dx: 8 }, counts) : null));
      } else {
        const middle = stacked ? barsTop + barHeight / 2 + 5 : barsTop + (groupHeight - 14) / 2 + 4;
        chart.append(svg("text", { x: labelWidth - 12, y: middle, class: "axis-label", "text-anchor": "end" }, name));
      }
      let offset = 0;
      series.forEach(([seriesName, field, cls], j) => {
        const value = row[field] || 0;
        const w = Math.max(value > 0 ? 2 : 0, (value / max) * plot);
        const y = stacked ? barsTop : barsTop + j * (barHeight + 4);
        const bar = svg("rect", { x: labelWidth + (stacked ? offset : 0), y, width: w, height: barHeight, rx: 3, class: cls });
        bar.append(svg("title", {}, `${row.service_name} ${seriesName}: ${label(row[field])}`));
        chart.append(bar);
        if (!stacked) chart.append(svg("text", { x: labelWidth + w + 6, y: y + barHeight - 3, class: "value" }, label(row[field])));
        offset += w;
      });
      if (stacked && !narrow) chart.append(svg("text", { x: labelWidth + offset + 8, y: barsTop + barHeight - 5, class: "value" }, counts));
    });
    if (!narrow) chart.append(svg("line", { x1: labelWidth, x2: labelWidth, y1: top - 4, y2: height, class: "axis" }));
    return h("div", { class: "chart-wrap" }, chart);
  }


  // --- sent messages (make run only) ------------------------------------------------------

  async function showLocalPages() {
    // Only the local runtime answers this; anywhere else the link stays hidden.
    if (!can("manage")) return;
    try {
      await api("GET", "/api/local/messages");
    } catch (error) {
      return;
    }
    for (const link of document.querySelectorAll("#nav a[data-local]")) link.hidden = false;
  }

  function withLinks(text) {
    // Text as text nodes; only http and https URLs become links.
    const parts = [];
    let rest = text;
    const url = /https?:\/\/[^\s<>"]+/;
    for (let found = url.exec(rest); found; found = url.exec(rest)) {
      parts.push(rest.slice(0, found.index), h("a", { href: found[0], class: "message-link" }, found[0]));
      rest = rest.slice(found.index + found[0].length);
    }
    parts.push(rest);
    return parts;
  }

  async function messagesPage(view) {
    view.append(
      h("div", { class: "page-head" }, h("h1", {}, "Sent messages")),
      h("p", { class: "muted" }, "Every SMS and email oncall sent while running locally, newest first. Links in them work here."),
    );
    let answer;
    try {
      answer = await api("GET", "/api/local/messages");
    } catch (error) {
      if (error.status !== 401) view.append(h("p", { class: "panel error-text", role: "alert" }, explain(error)));
      return;
    }
    if (state.route.page !== "messages") return;
    if (!answer.messages.length) {
      view.append(h("p", { class: "panel", id: "no-messages" }, "Nothing sent yet. Pages go out when an incident becomes someone's."));
      return;
    }
    const list = h("ol", { class: "messages", id: "messages" });
    for (const message of answer.messages) {
      list.append(
        h(
          "li",
          { class: "panel message" },
          h("div", { class: "message-head" }, h("span", { class: "role" }, message.kind === "sms" ? "SMS" : "Email"), " to ", h("strong", {}, message.to)),
          message.subject ? h("div", { class: "message-subject" }, message.subject) : null,
          h("pre", { class: "message-text" }, ...withLinks(message.text)),
        ),
      );
    }
    view.append(list);
  }


  // --- routing --------------------------------------------------------------------------

  function parseRoute() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
    const page = parts[0] || (state.me ? (can("read") ? "incidents" : "trigger") : "signin");
    const id = page === "incidents" && parts[1] && /^\d+$/.test(parts[1]) ? Number(parts[1]) : null;
    return { page, id };
  }

  function render() {
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
    for (const link of document.querySelectorAll("#nav a")) {
      if (link.dataset.page === page) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const pages = {
      incidents: [id ? `Incident #${id}` : "Incidents", "read", (v) => (id ? incidentPage(v, id) : incidentsPage(v))],
      trigger: ["Trigger", "trigger", triggerPage],
      oncall: ["On-call", "read", oncallPage],
      metrics: ["Metrics", "read", metricsPage],
      messages: ["Sent messages", "manage", messagesPage],
    };
    const entry = pages[page];
    if (!entry) {
      if (page === "signin") location.hash = can("read") ? "#/incidents" : "#/trigger";
      else view.append(h("p", { class: "panel" }, "There is no such page. ", h("a", { href: "#/incidents" }, "Go to incidents")));
      return;
    }
    const [title, needs, draw] = entry;
    document.title = `${title} · oncall`;
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
})();
