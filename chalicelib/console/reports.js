// The reports page: one service or all, a range of UTC days, by day or ISO week
// (GET /api/reports): incidents and MTTA/MTTR per bucket, night pages per person and
// the noisiest alerts, as SVG charts drawn the way the metrics page draws its own.

import { api, explain, q } from "./api.js";
import { $, h, svg } from "./dom.js";
import { duration, servicesDatalist, showError } from "./format.js";
import { barChart } from "./metrics.js";
import { state } from "./state.js";

const dayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" });
const shortDay = (iso) => dayFormat.format(new Date(`${iso}T00:00:00Z`));

function choiceFromRoute() {
  const query = (state.route && state.route.query) || new URLSearchParams();
  const bucket = query.get("bucket") === "day" ? "day" : "week";
  return { service: (query.get("service") || "").trim(), from: query.get("from") || "", to: query.get("to") || "", bucket };
}

export function reportsPage(view) {
  const choice = choiceFromRoute();
  const serviceInput = h("input", { id: "report-service", name: "service", list: "known-services", placeholder: "every service", value: choice.service, autocomplete: "off" });
  const fromInput = h("input", { id: "report-from", name: "from", type: "date", value: choice.from });
  const toInput = h("input", { id: "report-to", name: "to", type: "date", value: choice.to });
  const bucketSelect = h("select", { id: "report-bucket", name: "bucket" }, h("option", { value: "week" }, "ISO week"), h("option", { value: "day" }, "Day"));
  bucketSelect.value = choice.bucket;
  const form = h(
    "form",
    { class: "filters", id: "report-form", "aria-label": "Report range" },
    h("div", { class: "field" }, h("label", { for: "report-service" }, "Service"), serviceInput),
    h("div", { class: "field" }, h("label", { for: "report-from" }, "From (UTC day)"), fromInput),
    h("div", { class: "field" }, h("label", { for: "report-to" }, "To (UTC day)"), toInput),
    h("div", { class: "field" }, h("label", { for: "report-bucket" }, "Bucket"), bucketSelect),
    servicesDatalist(),
    h("div", { class: "field end" }, h("button", { type: "submit" }, "Show")),
  );
  const body = h("div", { id: "report-body" }, h("p", { class: "muted" }, "Loading…"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = { service: serviceInput.value.trim(), from: fromInput.value, to: toInput.value, bucket: bucketSelect.value };
    location.hash = `#/reports${q(next)}`;
  });
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Reports")),
    h("p", { class: "muted small" }, "Days and ISO weeks (Monday to Sunday) are UTC. An incident counts on the day it was opened, a page on the day it was sent; a night page is one sent 22:00–08:00 or on a weekend in the person's own time zone."),
    form,
    body,
  );
  load(body, choice, { service: serviceInput, from: fromInput, to: toInput, bucket: bucketSelect });
}

async function load(body, choice, controls) {
  let report;
  try {
    report = await api("GET", `/api/reports${q({ service_name: choice.service, from: choice.from, to: choice.to, bucket: choice.bucket })}`);
  } catch (error) {
    if (error.status === 401) return;
    const control = { service_name: controls.service, from: controls.from, to: controls.to, bucket: controls.bucket }[error.field];
    if (control) showError(control, explain(error));
    body.replaceChildren(h("p", { class: "panel error-text", role: "alert" }, explain(error)));
    return;
  }
  if (state.route.page !== "reports") return;
  controls.from.value = report.from;
  controls.to.value = report.to;
  const totals = report.totals;
  const tile = (label, value, id, hint) =>
    h("div", { class: "tile", id }, h("div", { class: "tile-label" }, label), h("div", { class: "tile-value" }, value), hint ? h("div", { class: "tile-hint muted small" }, hint) : null);
  const per = report.bucket === "week" ? "week" : "day";
  const scope = report.service_name ? report.service_name : "every service";
  body.replaceChildren(
    h("p", { id: "report-scope" }, `${scope}, ${report.from} to ${report.to}, per ${per === "week" ? "ISO week" : "day"}.`),
    h(
      "div",
      { class: "tiles", id: "report-totals" },
      tile("Incidents", String(totals.incidents), "report-incidents"),
      tile("Alerts", String(totals.alerts), "report-alerts", "folded repeats once resolved"),
      tile("Escalated", String(totals.escalated), "report-escalated"),
      tile("MTTA", duration(totals.mtta_seconds), "report-mtta", "resolved incidents"),
      tile("MTTR", duration(totals.mttr_seconds), "report-mttr", "resolved incidents"),
      tile("Pages", String(totals.pages_sent), "report-pages"),
      tile("Night pages", String(totals.night_pages), "report-night-pages", "22:00–08:00 or weekends, local"),
    ),
    h("section", { class: "panel", "aria-labelledby": "report-incidents-head" }, h("h2", { id: "report-incidents-head" }, `Incidents per ${per}`), incidentsChart(report.buckets, per)),
    h("section", { class: "panel", "aria-labelledby": "report-times-head" }, h("h2", { id: "report-times-head" }, `MTTA and MTTR per ${per}`), timesChart(report.buckets, per)),
    h("section", { class: "panel", "aria-labelledby": "report-night-head" }, h("h2", { id: "report-night-head" }, "Night pages per person"), nightChart(totals.pages_by_user)),
    h("section", { class: "panel", "aria-labelledby": "report-noisy-head" }, h("h2", { id: "report-noisy-head" }, "Noisiest alerts"), noisyTable(report.noisy_alerts)),
    h("section", { class: "panel", "aria-labelledby": "report-table-head" }, h("h2", { id: "report-table-head" }, `Per ${per}`), bucketTable(report.buckets, per)),
  );
}

function incidentsChart(buckets, per) {
  if (!buckets.some((b) => b.incidents)) return h("p", { class: "muted" }, "No incidents in this range.");
  const summary = `Incidents per ${per}: ${buckets.map((b) => `${b.start} ${b.incidents}`).join("; ")}`;
  return columnChart(buckets, [["Incidents", "incidents", "bar-open"], ["Escalated", "escalated", "bar-mtta"]], String, summary, "report-incidents-chart");
}

function timesChart(buckets, per) {
  if (!buckets.some((b) => b.mttr_seconds != null)) return h("p", { class: "muted" }, "No incident opened in this range has been resolved yet.");
  const summary = `MTTA and MTTR per ${per}: ${buckets.map((b) => `${b.start} MTTA ${duration(b.mtta_seconds)}, MTTR ${duration(b.mttr_seconds)}`).join("; ")}`;
  return columnChart(buckets, [["MTTA", "mtta_seconds", "bar-mtta"], ["MTTR", "mttr_seconds", "bar-mttr"]], duration, summary, "report-times-chart");
}

function nightChart(users) {
  if (!users.length) return h("p", { class: "muted" }, "Nobody was paged in this range.");
  const rows = users.map((u) => ({ label: u.user, night: u.night_pages, day: u.pages - u.night_pages }));
  const series = [
    ["Night", "night", "bar-open"],
    ["Waking hours", "day", "bar-resolved"],
  ];
  const max = Math.max(1, ...rows.map((row) => row.night + row.day));
  const counts = (row) => `${row.night} at night · ${row.night + row.day} in all`;
  const summary = `Pages per person: ${rows.map((row) => `${row.label} ${counts(row)}`).join("; ")}`;
  return barChart(rows, series, max, String, summary, "report-night-chart", counts);
}

// Vertical bars, a group per bucket, its first day under it; each bar titled with its value.
function columnChart(buckets, series, label, summary, id) {
  const view = $("#view");
  const style = getComputedStyle(view);
  const inner = view.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const width = Math.max(280, Math.min(760, (inner || 760) - 42));
  const left = 8;
  const top = 34;
  const plotHeight = 160;
  const bottom = 28;
  const height = top + plotHeight + bottom;
  const slot = (width - left) / buckets.length;
  const barWidth = Math.max(2, Math.min(18, (slot - 4) / series.length));
  const max = Math.max(1, ...buckets.flatMap((b) => series.map(([, field]) => b[field] || 0)));
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img", "aria-label": summary, class: "chart", id });
  chart.append(svg("title", {}, summary));
  let x = left;
  for (const [name, , cls] of series) {
    chart.append(svg("rect", { x, y: 8, width: 12, height: 12, rx: 2, class: cls }));
    chart.append(svg("text", { x: x + 18, y: 18, class: "legend" }, name));
    x += 110;
  }
  const every = Math.ceil(buckets.length / Math.max(1, Math.floor(width / 60)));
  buckets.forEach((bucket, index) => {
    const x0 = left + index * slot + (slot - barWidth * series.length) / 2;
    series.forEach(([name, field, cls], j) => {
      const value = bucket[field] || 0;
      const barHeight = value > 0 ? Math.max(2, (value / max) * plotHeight) : 0;
      const bar = svg("rect", { x: x0 + j * barWidth, y: top + plotHeight - barHeight, width: Math.max(1, barWidth - 1), height: barHeight, rx: 2, class: cls });
      bar.append(svg("title", {}, `${bucket.start} ${name}: ${label(bucket[field])}`));
      chart.append(bar);
    });
    if (index % every === 0) chart.append(svg("text", { x: left + index * slot + slot / 2, y: top + plotHeight + 18, class: "value", "text-anchor": "middle" }, shortDay(bucket.start)));
  });
  chart.append(svg("line", { x1: left, x2: width, y1: top + plotHeight, y2: top + plotHeight, class: "axis" }));
  return h("div", { class: "chart-wrap" }, chart);
}

function noisyTable(noisy) {
  if (!noisy.length) return h("p", { class: "muted" }, "No alerts in this range.");
  const columns = [
    ["Service", (a) => a.service_name],
    ["Title", (a) => a.title || "—"],
    ["Dedup key", (a) => a.dedup_key || "—"],
    ["Alerts", (a) => String(a.alerts)],
    ["Incidents", (a) => String(a.incidents)],
  ];
  return table("report-noisy", "The alerts with the most repeats in this range", columns, noisy, 3);
}

function bucketTable(buckets, per) {
  const columns = [
    [per === "week" ? "Week of" : "Day", (b) => b.start],
    ["Incidents", (b) => String(b.incidents)],
    ["Alerts", (b) => String(b.alerts)],
    ["Acknowledged", (b) => String(b.acknowledged)],
    ["Escalated", (b) => String(b.escalated)],
    ["MTTA", (b) => duration(b.mtta_seconds)],
    ["MTTR", (b) => duration(b.mttr_seconds)],
    ["Pages", (b) => String(b.pages_sent)],
    ["Night pages", (b) => String(b.night_pages)],
  ];
  return table("report-buckets", `Counts per ${per}`, columns, buckets, 1);
}

function table(id, caption, columns, rows, firstNumber) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "grid", id },
      h("caption", { class: "sr-only" }, caption),
      h("thead", {}, h("tr", {}, columns.map(([label]) => h("th", { scope: "col" }, label)))),
      h("tbody", {}, rows.map((row) => h("tr", {}, columns.map(([label, value], i) => h("td", { "data-label": label, class: i >= firstNumber ? "num" : "" }, value(row)))))),
    ),
  );
}
