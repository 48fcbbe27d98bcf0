// One incident: every field, the timeline, and for responders a note and a reassignment.

import { api, explain, mutate } from "./api.js";
import { $, h } from "./dom.js";
import { assignee, severityBadge, statusBadge, timeEl } from "./format.js";
import { actionButtons } from "./incidents.js";
import { render } from "./main.js";
import { notice, updateTabTitle } from "./notices.js";
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

async function submitting(form, send) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    return await send();
  } finally {
    button.disabled = false;
  }
}
