// One incident: status and actions, the timeline newest first, a note and a reassignment
// for responders, then its context (every field, and what the alert sent).

import { allPages, api, explain } from "./api.js";
import { $, h } from "./dom.js";
import { assignee, linkOrText, maintenanceBadge, relTime, safeUrl, severityBadge, showError, statusBadge } from "./format.js";
import { clearErrors, sendForm } from "./forms.js";
import { actionButtons } from "./incidents.js";
import { render } from "./main.js";
import { updateTabTitle } from "./notices.js";
import { OPEN, can, remember, state } from "./state.js";

export async function incidentPage(view, id) {
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
  updateTabTitle();
  const fields = [
    ["Service", incident.service_name],
    ["Severity", severityBadge(incident.severity)],
    ["Alerts", String(incident.alert_count)],
    ["Last alert", relTime(incident.last_alert_at)],
    ["Dedup key", incident.dedup_key || "—"],
    ["Created", relTime(incident.created_at)],
    ["Created by", incident.created_by || "—"],
    ["Acknowledged", relTime(incident.acknowledged_at)],
    ["Acknowledged by", incident.acknowledged_by || "—"],
    ["Resolved", relTime(incident.resolved_at)],
    ["Resolved by", incident.resolved_by || "—"],
    ["Escalated", relTime(incident.escalated_at)],
    ["Escalation level", String(incident.escalation_level ?? 0)],
  ];
  const rerender = () => render();
  const contact = h("p", { class: "contact-state muted", id: "contact-state", hidden: true });
  view.replaceChildren(
    h("p", { class: "back" }, h("a", { href: state.listHash || "#/incidents" }, "← All incidents")),
    h(
      "article",
      { class: "panel detail", id: "detail", "data-id": incident.id, "data-status": incident.status, "data-alerts": incident.alert_count, "data-assignee": incident.assigned_to || "" },
      h("div", { class: "detail-head" }, h("h1", { id: "incident-title" }, h("span", { class: "muted" }, `#${incident.id} `), incident.title), h("div", { class: "detail-actions" }, actionButtons(incident, rerender))),
      h(
        "p",
        { class: "status-line", id: "status-line" },
        statusBadge(incident.status),
        " ",
        severityBadge(incident.severity),
        " ",
        h("span", { class: "status-who" }, "Assigned to ", h("strong", {}, assignee(incident))),
        " · opened ",
        relTime(incident.created_at),
      ),
      nextStep(incident),
      contact,
      incident.description ? h("p", { class: "description", id: "incident-description" }, incident.description) : null,
    ),
    h("section", { class: "panel", "aria-labelledby": "timeline-head" }, h("h2", { id: "timeline-head" }, "Timeline ", h("span", { class: "muted small" }, "newest first")), timelineList(incident.timeline || [])),
    can("respond") ? workTogether(incident) : null,
    h(
      "section",
      { class: "panel context", id: "context", "aria-labelledby": "context-head" },
      h("h2", { id: "context-head" }, "Context"),
      h(
        "dl",
        { class: "fields" },
        incident.source ? h("div", { class: "field-pair" }, h("dt", {}, "Source"), h("dd", { id: "incident-source" }, incident.source)) : null,
        fields.map(([label, value]) => h("div", { class: "field-pair" }, h("dt", {}, label), h("dd", {}, value))),
      ),
      detailsList(incident.details),
    ),
  );
  // A refresh re-draws the page: keep what was being typed, and where.
  const drafts = state.drafts && state.drafts.id === String(incident.id) ? state.drafts : null;
  state.drafts = null;
  for (const [field, value] of Object.entries(drafts ? drafts.values : {})) if ($(`#${field}`)) $(`#${field}`).value = value;
  const focus = state.focusAfterRender || (drafts && drafts.focused);
  state.focusAfterRender = null;
  if (focus && $(`#${focus}`)) $(`#${focus}`).focus({ preventScroll: true });
  showContactState(incident, contact);
}

// "Escalates to level 2 (bob) in 3 min", or "Escalation stops here"; nothing when no step is due.
function targetName(target) {
  if (target.user) return target.user;
  if (target.oncall) return `on call for ${target.oncall}`;
  return "?";
}

function nextStep(incident) {
  if (incident.suppressed && OPEN.includes(incident.status)) {
    return h(
      "p",
      { class: "next-step", id: "next-step" },
      maintenanceBadge(),
      " Opened in a maintenance window: it pages nobody and escalates only once the window is over (",
      h("a", { href: "#/maintenance" }, "windows"),
      ").",
    );
  }
  const next = incident.next_escalation;
  if (!next || !OPEN.includes(incident.status)) return null;
  if (next.level === null || next.level === undefined) {
    return h("p", { class: "next-step", id: "next-step" }, "Escalation stops here ", h("span", { class: "muted" }, "(", relTime(next.at), ")"));
  }
  const who = (next.targets || []).map(targetName).join(", ");
  const round = next.round && next.round > 1 ? `, round ${next.round}` : "";
  const due = new Date(next.at).getTime() <= Date.now() ? "now" : relTime(next.at);
  return h("p", { class: "next-step", id: "next-step" }, `Escalates to level ${next.level}${round}${who ? ` (${who})` : ""} `, due);
}

const KIND_NAMES = { sms: "SMS", email: "email", voice: "voice call", slack: "Slack", webhook: "webhook", push: "push" };

// "alice: SMS, email", or "alice has no verified contact method"; silent when it cannot be read.
async function showContactState(incident, line) {
  const name = incident.assigned_to;
  if (!name) return;
  let methods;
  try {
    methods = await allPages(`/api/users/${encodeURIComponent(name)}/contact-methods`, "contact_methods");
  } catch (error) {
    return;
  }
  if (!line.isConnected) return;
  const active = [...new Set(methods.filter((method) => method.state === "active").map((method) => KIND_NAMES[method.kind] || method.kind))];
  line.textContent = active.length ? `${name}: ${active.join(", ")}` : `${name} has no verified contact method`;
  line.classList.toggle("error-text", !active.length);
  line.hidden = false;
}

// What the integration sent: key and value; nested values as compact JSON; only http and
// https links can be followed.
function detailValue(key, value) {
  if (value === null || value === undefined) return h("span", { class: "muted" }, "—");
  if (key === "links" && Array.isArray(value) && value.every((link) => link && typeof link === "object" && "href" in link)) {
    return h("ul", { class: "detail-links" }, value.map((link) => h("li", {}, linkOrText(String(link.href), link.text ? String(link.text) : ""))));
  }
  if (typeof value === "string") return safeUrl(value) ? linkOrText(value) : h("span", { class: "detail-text" }, value);
  if (typeof value === "object") return h("code", { class: "detail-json" }, JSON.stringify(value));
  return String(value);
}

function detailsList(details) {
  if (details === null || details === undefined) return null;
  const entries = typeof details === "object" && !Array.isArray(details) ? Object.entries(details) : [["details", details]];
  if (!entries.length) return null;
  return h(
    "div",
    { class: "details-block" },
    h("h3", {}, "Details from the alert"),
    h("dl", { class: "details", id: "incident-details" }, entries.map(([key, value]) => h("div", { class: "field-pair" }, h("dt", {}, key), h("dd", {}, detailValue(key, value))))),
  );
}

// Newest first. Attempts at one notification ("attempt 2 of 5 ... next attempt in 30 s")
// fold into one line that opens to show each attempt.
function attemptKey(entry) {
  if (entry.kind !== "notification" || !/\battempt \d+ of \d+/i.test(String(entry.message))) return null;
  return String(entry.message)
    .replace(/\battempt \d+ of \d+/gi, "attempt #")
    .replace(/;\s*next attempt in [^.;]*/gi, "")
    .replace(/;\s*(giving up|will not retry)\b/gi, "")
    .replace(/\s*\.$/, "");
}

function entryHead(entry) {
  return h("div", { class: "tl-head" }, h("span", { class: "tl-kind" }, entry.kind), " ", relTime(entry.at), " · ", h("span", { class: "tl-actor" }, entry.actor || "system"));
}

function entryItem(entry) {
  return h("li", { class: `tl-${String(entry.kind).replace(/[^a-z_-]/gi, "")}` }, entryHead(entry), h("p", { class: "tl-message" }, entry.message));
}

const RECENT_ENTRIES = 15;

function timelineList(entries) {
  const newest = [...entries].map((entry, index) => ({ entry, index })).sort((a, b) => String(b.entry.at).localeCompare(String(a.entry.at)) || b.index - a.index);
  const groups = [];
  const byKey = new Map();
  for (const { entry } of newest) {
    const key = attemptKey(entry);
    if (key && byKey.has(key)) {
      byKey.get(key).push(entry);
      continue;
    }
    const group = [entry];
    if (key) byKey.set(key, group);
    groups.push(group);
  }
  const items = groups.map((group) => {
    if (group.length === 1) return entryItem(group[0]);
    const [latest] = group;
    return h(
      "li",
      { class: "tl-notification tl-folded" },
      h(
        "details",
        {},
        h("summary", {}, entryHead(latest), h("p", { class: "tl-message" }, latest.message, " ", h("span", { class: "muted small tl-count" }, `(${group.length} attempts)`))),
        h("ol", { class: "tl-attempts" }, group.map((entry) => h("li", {}, relTime(entry.at), " ", entry.message))),
      ),
    );
  });
  const list = h("ol", { class: "timeline", id: "timeline" }, items.slice(0, RECENT_ENTRIES));
  if (items.length <= RECENT_ENTRIES) return list;
  return [list, h("details", { class: "older" }, h("summary", {}, `${items.length - RECENT_ENTRIES} older entries`), h("ol", { class: "timeline", id: "timeline-older" }, items.slice(RECENT_ENTRIES)))];
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
  noteForm.addEventListener("input", () => clearErrors(noteForm));
  noteForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!noteText.value.trim()) {
      showError(noteText, "Write something in the note first.");
      noteText.focus();
      return;
    }
    const path = `/api/incidents/${encodeURIComponent(incident.id)}/notes`;
    if (await sendForm(noteForm, "POST", path, { text: noteText.value }, `Added a note to incident #${incident.id}`)) {
      noteText.value = "";
      state.focusAfterRender = "note-text";
      render();
    }
  });
  const forms = [noteForm];
  if (OPEN.includes(incident.status)) {
    const user = h("input", { id: "reassign-user", name: "user", required: true, maxlength: 128, autocomplete: "off", list: "known-users", "aria-describedby": "reassign-help" });
    const reassignForm = h(
      "form",
      { class: "stack-form", id: "reassign-form", "aria-labelledby": "reassign-head" },
      h("h2", { id: "reassign-head" }, "Reassign"),
      h("label", { for: "reassign-user" }, "Reassign to"),
      user,
      usersDatalist(),
      h("p", { id: "reassign-help", class: "muted small" }, "The service's channels announce the new assignee."),
      h("div", { class: "actions" }, h("button", { type: "submit" }, "Reassign")),
    );
    reassignForm.addEventListener("input", () => clearErrors(reassignForm));
    reassignForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = user.value.trim();
      if (!name) return;
      const path = `/api/incidents/${encodeURIComponent(incident.id)}/reassign`;
      if (await sendForm(reassignForm, "POST", path, { user: name }, `Incident #${incident.id} is now assigned to ${name}`)) {
        user.value = "";
        state.focusAfterRender = "reassign-user";
        render();
      }
    });
    forms.push(reassignForm);
  }
  return h("section", { class: "panel together", id: "together", "aria-label": "Work on this incident" }, forms);
}

// The people GET /api/users knows, offered as the reassign field's suggestions.
let knownUsers = null;

function usersDatalist() {
  const list = h("datalist", { id: "known-users" });
  const fill = (names) => list.replaceChildren(...names.map((name) => h("option", { value: name })));
  if (knownUsers) fill(knownUsers);
  else {
    allPages("/api/users", "users")
      .then((users) => {
        knownUsers = users.map((user) => user.name).filter(Boolean).sort();
        fill(knownUsers);
      })
      .catch(() => {});
  }
  return list;
}

const DRAFT_FIELDS = ["note-text", "reassign-user"];

// Called before the view is cleared: what was typed into the detail page's forms.
export function keepDrafts() {
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
