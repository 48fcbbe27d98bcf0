// Maintenance windows: when a service's alerts open incidents that page nobody. Everyone who
// reads incidents sees them; admins add them, end them early and remove them.

import { api, mutate, q } from "./api.js";
import { h } from "./dom.js";
import { clearError, errorSentence, relTime, servicesDatalist } from "./format.js";
import { sendForm } from "./forms.js";
import { can, state } from "./state.js";

// <input type="datetime-local"> speaks the browser's local time without a zone.
function localInputValue(date) {
  const shifted = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return shifted.toISOString().slice(0, 16);
}

function stateBadge(window) {
  const labels = { active: "in effect", upcoming: "upcoming", ended: "over" };
  const classes = { active: "maintenance", upcoming: "upcoming", ended: "ended" };
  return h("span", { class: `badge ${classes[window.state]}` }, labels[window.state]);
}

function windowRow(window, reload) {
  const actions = [];
  if (can("manage") && window.state !== "ended") {
    actions.push(
      h(
        "button",
        {
          type: "button",
          class: "small",
          "data-action": "end",
          onclick: async () => {
            if (await mutate("POST", `/api/maintenance/${window.id}/end`, undefined, `Window on ${window.service_name} ended: its incidents page again from now.`)) reload();
          },
        },
        window.state === "upcoming" ? "Cancel" : "End now",
      ),
    );
  }
  if (can("manage")) {
    actions.push(
      h(
        "button",
        {
          type: "button",
          class: "small danger",
          "data-action": "remove",
          onclick: async () => {
            if (await mutate("DELETE", `/api/maintenance/${window.id}`, undefined, `Window on ${window.service_name} removed.`)) reload();
          },
        },
        "Remove",
      ),
    );
  }
  const ended = window.ended_early_at ? h("span", { class: "muted small" }, " (ended early; planned ", relTime(window.planned_end), ")") : null;
  return h(
    "tr",
    { "data-id": window.id, "data-state": window.state },
    h("td", { "data-label": "Service" }, window.service_name),
    h("td", { "data-label": "Reason", class: "title" }, window.reason),
    h("td", { "data-label": "State" }, stateBadge(window)),
    h("td", { "data-label": "From" }, relTime(window.start)),
    h("td", { "data-label": "Until" }, relTime(window.end), ended),
    h("td", { "data-label": "Actions", class: "actions" }, actions),
  );
}

async function drawList(holder, showEnded) {
  let answer;
  try {
    answer = await api("GET", `/api/maintenance${q({ include_ended: showEnded ? "true" : "", limit: 100 })}`);
  } catch (error) {
    if (error.status !== 401) holder.replaceChildren(h("p", { class: "panel error-text", role: "alert" }, errorSentence(error)));
    return;
  }
  if (state.route.page !== "maintenance") return;
  const reload = () => drawList(holder, showEnded);
  if (!answer.windows.length) {
    holder.replaceChildren(h("p", { class: "panel empty", id: "no-windows" }, showEnded ? "No maintenance windows." : "No maintenance window is in effect or planned."));
    return;
  }
  for (const window of answer.windows) state.services.add(window.service_name);
  holder.replaceChildren(
    h(
      "table",
      { class: "grid", id: "windows" },
      h("caption", { class: "sr-only" }, "Maintenance windows, by end"),
      h("thead", {}, h("tr", {}, ["Service", "Reason", "State", "From", "Until", ""].map((label) => h("th", { scope: "col" }, label)))),
      h(
        "tbody",
        {},
        answer.windows.map((window) => windowRow(window, reload)),
      ),
    ),
    answer.next_cursor ? h("p", { class: "muted small" }, "Showing the first 100 windows.") : null,
  );
}

function createForm(onCreated) {
  const now = new Date();
  const form = h(
    "form",
    { class: "panel form-grid", id: "window-form" },
    h("h2", { class: "wide" }, "Add a window"),
    h("div", { class: "field" }, h("label", { for: "w-service" }, "Service"), h("input", { id: "w-service", name: "service_name", required: true, maxlength: 128, list: "known-services", autocomplete: "off" }), servicesDatalist()),
    h("div", { class: "field" }, h("label", { for: "w-reason" }, "Reason"), h("input", { id: "w-reason", name: "reason", required: true, maxlength: 512, placeholder: "database upgrade" })),
    h("div", { class: "field" }, h("label", { for: "w-start" }, "From ", h("span", { class: "muted" }, "(your time)")), h("input", { id: "w-start", name: "start", type: "datetime-local", required: true, value: localInputValue(now) })),
    h("div", { class: "field" }, h("label", { for: "w-end" }, "Until ", h("span", { class: "muted" }, "(your time)")), h("input", { id: "w-end", name: "end", type: "datetime-local", required: true, value: localInputValue(new Date(now.getTime() + 3600000)) })),
    h("p", { class: "muted small wide" }, "Alerts for the service still open incidents and fold into them, but nobody is paged and no channel is told. When the window is over, nothing is paged for the past; an incident still open escalates from then if nobody acknowledges it."),
    h("div", { class: "actions wide" }, h("button", { type: "submit", class: "primary" }, "Add window")),
  );
  form.addEventListener("input", (event) => clearError(event.target));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = form.elements;
    const instant = (input) => (input.value ? new Date(input.value).toISOString() : "");
    const body = { service_name: fields.service_name.value.trim(), reason: fields.reason.value.trim(), start: instant(fields.start), end: instant(fields.end) };
    if (await sendForm(form, "POST", "/api/maintenance", body, `Maintenance window added for ${body.service_name}.`)) {
      state.services.add(body.service_name);
      fields.reason.value = "";
      onCreated();
    }
  });
  return form;
}

export function maintenancePage(view) {
  const holder = h("div", { id: "window-list" }, h("p", { class: "muted" }, "Loading…"));
  const showEnded = h("input", { type: "checkbox", id: "show-ended" });
  showEnded.addEventListener("change", () => drawList(holder, showEnded.checked));
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Maintenance"), h("p", { class: "muted small" }, "Times when a service's incidents page nobody.")),
    h("p", { class: "filters" }, h("label", { for: "show-ended" }, showEnded, " Show windows that are over")),
    holder,
    can("manage") ? createForm(() => drawList(holder, showEnded.checked)) : null,
  );
  drawList(holder, false);
}
