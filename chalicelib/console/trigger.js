// The trigger page: open an incident by hand, or learn which open one an alert folds into.

import { api, explain } from "./api.js";
import { h } from "./dom.js";
import { servicesDatalist } from "./format.js";
import { updateTabTitle } from "./notices.js";
import { SEVERITIES, UNASSIGNED, can, remember, state } from "./state.js";

export function triggerPage(view) {
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
        // Announced here, so not again as new by the next refresh; counted in the tab title
        // (for a key that can see incidents) even if no refresh has been answered yet.
        if (can("read")) {
          remember(answer);
          updateTabTitle();
        }
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
