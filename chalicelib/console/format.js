// How values look: times, durations, badges, and the services datalist of the forms.

import { h } from "./dom.js";
import { SEVERITIES, UNASSIGNED_VALUE, state } from "./state.js";

const timeFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : timeFormat.format(date);
}

const TO_THE_SECOND = {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
};
const preciseFormat = new Intl.DateTimeFormat(undefined, TO_THE_SECOND);

export function timeEl(iso, precise = false) {
  if (!iso) return "—";
  const date = new Date(iso);
  const text = Number.isNaN(date.getTime()) ? String(iso) : (precise ? preciseFormat : timeFormat).format(date);
  return h("time", { datetime: iso, title: iso }, text);
}

export function duration(seconds) {
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

export function age(iso) {
  const seconds = (Date.now() - new Date(iso).getTime()) / 1000;
  if (!Number.isFinite(seconds)) return "—";
  if (seconds < 60) return "just now";
  return duration(seconds).split(" ")[0] + " ago";
}

export function statusBadge(status) {
  return h("span", { class: `badge status-${String(status).toLowerCase()}` }, status);
}

export function maintenanceBadge() {
  return h("span", { class: "badge maintenance", title: "Opened in a maintenance window: it pages nobody until the window is over" }, "maintenance");
}

export function severityBadge(severity) {
  return h("span", { class: `sev sev-${SEVERITIES.includes(severity) ? severity : "info"}` }, severity);
}

export function severityDot(severity) {
  const known = SEVERITIES.includes(severity) ? severity : "info";
  return h("span", { class: `sev-dot sev-${known}`, role: "img", "aria-label": `Severity ${severity}`, title: `Severity: ${severity}` });
}

export function assignee(incident) {
  return incident.assigned_to ? incident.assigned_to : h("span", { class: "muted strong" }, UNASSIGNED_VALUE);
}

export function servicesDatalist() {
  return h("datalist", { id: "known-services" }, [...state.services].sort().map((name) => h("option", { value: name })));
}

// "4 min ago", "in 3 min": a time relative to now, in words.
export function relative(iso, now = Date.now()) {
  const time = new Date(iso).getTime();
  if (!iso || !Number.isFinite(time)) return "—";
  const seconds = Math.round((time - now) / 1000);
  const span = Math.abs(seconds);
  let text;
  if (span < 10) return seconds > 0 ? "in a few seconds" : "just now";
  if (span < 60) text = `${span} s`;
  else if (span < 3600) text = `${Math.round(span / 60)} min`;
  else if (span < 48 * 3600) text = `${Math.round(span / 3600)} h`;
  else text = `${Math.round(span / 86400)} days`;
  return seconds > 0 ? `in ${text}` : `${text} ago`;
}

const zonedFormat = new Intl.DateTimeFormat(undefined, { ...TO_THE_SECOND, timeZoneName: "short" });

// The absolute time with its zone: what a relative time shows on hover.
export function absolute(iso) {
  const date = new Date(iso);
  return !iso || Number.isNaN(date.getTime()) ? String(iso || "—") : zonedFormat.format(date);
}

// A relative time, the absolute one (with its zone) in its title; refreshTimes() moves it on.
export function relTime(iso) {
  if (!iso) return "—";
  return h("time", { class: "rel", datetime: iso, title: absolute(iso) }, relative(iso));
}

export function refreshTimes(root = document) {
  for (const node of root.querySelectorAll("time.rel")) node.textContent = relative(node.getAttribute("datetime"));
}

// Only http and https URLs become links; anything else (javascript:, data:...) stays text.
export function safeUrl(text) {
  if (typeof text !== "string" || !/^https?:\/\//i.test(text.trim())) return null;
  try {
    const url = new URL(text.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch (error) {
    return null;
  }
}

export function linkOrText(href, label) {
  const url = safeUrl(href);
  return url ? h("a", { href: url, rel: "noopener noreferrer", target: "_blank", class: "detail-link" }, label || href) : h("span", { class: "unsafe-link" }, label && label !== href ? `${label} (${href})` : String(href));
}

// An error beside the control that caused it, in the API's words; it goes away when the
// form is edited or the action succeeds (and with the page when the user navigates away).
export function showError(control, message) {
  clearError(control);
  const id = `${control.id || control.dataset.focus || "action"}-error`;
  const text = h("p", { class: "inline-error", id, role: "alert" }, message);
  control.setAttribute("aria-invalid", "true");
  control.setAttribute("aria-errormessage", id);
  control.insertAdjacentElement("afterend", text);
  control._inlineError = text;
  return text;
}

export function clearError(control) {
  if (!control || !control._inlineError) return;
  control._inlineError.remove();
  control._inlineError = null;
  control.removeAttribute("aria-invalid");
  control.removeAttribute("aria-errormessage");
}

// The sentence for an action's failure: the API's own words, never a status code.
export function errorSentence(error) {
  if (error.status === 403) return `Your key may not do this: ${error.message}`;
  if (!error.message || /^HTTP \d+$/.test(error.message)) return "The server could not do that just now; try again.";
  return error.message;
}

// Relative times move on by themselves, on every page.
setInterval(() => refreshTimes(), 30000);
