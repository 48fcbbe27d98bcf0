// Heartbeats: jobs that must check in. Everyone who reads incidents sees them; admins add
// them (the ping URL is shown once, here), change their interval and delete them.

import { allPages, mutate } from "./api.js";
import { h } from "./dom.js";
import { clearError, duration, errorSentence, relTime, servicesDatalist } from "./format.js";
import { sendForm } from "./forms.js";
import { can, state } from "./state.js";

const STATUS_TITLES = {
  waiting: "Never pinged yet: it cannot be late before its first check-in",
  up: "Checked in within its interval and grace",
  late: "It missed its check-in: an incident is open for it until the next ping",
};

function statusBadge(status) {
  return h("span", { class: `badge hb-${status}`, title: STATUS_TITLES[status] || "" }, status);
}

function intervalForm(heartbeat, reload) {
  const input = h("input", {
    type: "number",
    min: 60,
    max: 86400,
    step: 1,
    value: heartbeat.interval_seconds,
    "aria-label": `Interval of ${heartbeat.name} in seconds`,
    class: "hb-interval",
    name: "interval_seconds",
  });
  const form = h("form", { class: "hb-change", "data-action": "interval" }, input, h("button", { type: "submit", class: "small" }, "Save"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { interval_seconds: Number(input.value) };
    if (await mutate("PATCH", `/api/heartbeats/${heartbeat.id}`, body, `${heartbeat.name} now checks in every ${duration(body.interval_seconds)}; its ping URL is unchanged.`)) reload();
  });
  return form;
}

function heartbeatRow(heartbeat, reload) {
  const manage = can("manage");
  const remove = h(
    "button",
    {
      type: "button",
      class: "small danger",
      "data-action": "delete",
      onclick: async () => {
        if (await mutate("DELETE", `/api/heartbeats/${heartbeat.id}`, undefined, `Heartbeat ${heartbeat.name} deleted.`)) reload();
      },
    },
    "Delete",
  );
  return h(
    "tr",
    { "data-id": heartbeat.id, "data-status": heartbeat.status },
    h("td", { "data-label": "Service" }, heartbeat.service_name),
    h("td", { "data-label": "Name", class: "title" }, heartbeat.name),
    h("td", { "data-label": "Status" }, statusBadge(heartbeat.status)),
    h("td", { "data-label": "Last seen" }, heartbeat.last_ping_at ? relTime(heartbeat.last_ping_at) : "never"),
    h("td", { "data-label": "Late after" }, heartbeat.next_due_at ? relTime(heartbeat.next_due_at) : "—"),
    h("td", { "data-label": "Interval" }, manage ? intervalForm(heartbeat, reload) : duration(heartbeat.interval_seconds), h("span", { class: "muted small" }, `${manage ? " s" : ""} + ${duration(heartbeat.grace_seconds)} grace`)),
    h("td", { "data-label": "Actions", class: "actions" }, manage ? remove : null),
  );
}

async function drawList(holder) {
  let heartbeats;
  try {
    heartbeats = await allPages("/api/heartbeats", "heartbeats");
  } catch (error) {
    if (error.status !== 401) holder.replaceChildren(h("p", { class: "panel error-text", role: "alert" }, errorSentence(error)));
    return;
  }
  if (state.route.page !== "heartbeats") return;
  const reload = () => drawList(holder);
  if (!heartbeats.length) {
    holder.replaceChildren(h("p", { class: "panel empty", id: "no-heartbeats" }, "No heartbeats yet."));
    return;
  }
  for (const heartbeat of heartbeats) state.services.add(heartbeat.service_name);
  holder.replaceChildren(
    h(
      "table",
      { class: "grid", id: "heartbeats" },
      h("caption", { class: "sr-only" }, "Heartbeats, by service then name"),
      h("thead", {}, h("tr", {}, ["Service", "Name", "Status", "Last seen", "Late after", "Interval", ""].map((label) => h("th", { scope: "col" }, label)))),
      h(
        "tbody",
        {},
        heartbeats.map((heartbeat) => heartbeatRow(heartbeat, reload)),
      ),
    ),
  );
}

// The ping URL, once: the secret in it is stored only as a digest.
function shownOnce(made) {
  const curl = `curl -fsS -m 10 --retry 3 -X POST ${made.ping_url}`;
  return h(
    "div",
    { class: "panel", id: "new-heartbeat", role: "status" },
    h("h2", {}, `Ping URL of ${made.name}`),
    h("p", { class: "muted small" }, "Shown only now: copy it into the job. Anyone with it can check in for this heartbeat; delete the heartbeat and add it again to get a new one."),
    h("p", {}, h("code", { id: "ping-url", class: "hb-secret" }, made.ping_url)),
    h("p", { class: "muted small" }, "At the end of the job, e.g. in a crontab line after the command:"),
    h("pre", { class: "hb-curl" }, h("code", { id: "ping-curl" }, curl)),
  );
}

function createForm(onCreated) {
  const form = h(
    "form",
    { class: "panel form-grid", id: "heartbeat-form" },
    h("h2", { class: "wide" }, "Add a heartbeat"),
    h("div", { class: "field" }, h("label", { for: "hb-service" }, "Service"), h("input", { id: "hb-service", name: "service_name", required: true, maxlength: 128, list: "known-services", autocomplete: "off" }), servicesDatalist()),
    h("div", { class: "field" }, h("label", { for: "hb-name" }, "Name"), h("input", { id: "hb-name", name: "name", required: true, maxlength: 128, placeholder: "nightly-backup" })),
    h("div", { class: "field" }, h("label", { for: "hb-interval" }, "Interval ", h("span", { class: "muted" }, "(seconds, 60 to 86400)")), h("input", { id: "hb-interval", name: "interval_seconds", type: "number", min: 60, max: 86400, required: true, value: 3600 })),
    h("div", { class: "field" }, h("label", { for: "hb-grace" }, "Grace ", h("span", { class: "muted" }, "(seconds)")), h("input", { id: "hb-grace", name: "grace_seconds", type: "number", min: 0, max: 86400, required: true, value: 300 })),
    h("p", { class: "muted small wide" }, "When no ping comes within the interval plus the grace after the last one, an incident opens for the service (once), and pages as any other; the next ping resolves it. A heartbeat never pinged is never late."),
    h("div", { class: "actions wide" }, h("button", { type: "submit", class: "primary" }, "Add heartbeat")),
  );
  form.addEventListener("input", (event) => clearError(event.target));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fields = form.elements;
    const body = {
      service_name: fields.service_name.value.trim(),
      name: fields.name.value.trim(),
      interval_seconds: Number(fields.interval_seconds.value),
      grace_seconds: Number(fields.grace_seconds.value),
    };
    const made = await sendForm(form, "POST", "/api/heartbeats", body);
    if (made) {
      state.services.add(body.service_name);
      fields.name.value = "";
      onCreated(made);
    }
  });
  return form;
}

export function heartbeatsPage(view) {
  const holder = h("div", { id: "heartbeat-list" }, h("p", { class: "muted" }, "Loading…"));
  const secret = h("div", { id: "heartbeat-secret" });
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Heartbeats"), h("p", { class: "muted small" }, "Jobs that must check in; one that goes quiet opens an incident.")),
    secret,
    holder,
    can("manage")
      ? createForm((made) => {
          secret.replaceChildren(shownOnce(made));
          drawList(holder);
        })
      : null,
  );
  drawList(holder);
}
