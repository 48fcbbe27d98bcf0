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

const preciseFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

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
