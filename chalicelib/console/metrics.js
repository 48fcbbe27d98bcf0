// The metrics page: MTTA, MTTR and counts, overall and per service, with two charts.

import { allPages, api, explain } from "./api.js";
import { $, h, svg } from "./dom.js";
import { duration } from "./format.js";
import { state } from "./state.js";

export async function metricsPage(view) {
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
// group on a phone, so the text keeps its size instead of being scaled down. A row is
// named by its `label`, else its service; `stacked` is true or, for other counts than
// open and resolved, a function saying a row's counts.
export function barChart(rows, series, max, label, summary, id, stacked = false) {
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
    const rowName = row.label ?? row.service_name;
    const name = rowName.length > limit ? `${rowName.slice(0, limit - 1)}…` : rowName;
    const counts = typeof stacked === "function" ? stacked(row) : stacked ? `${row.open} open · ${row.closed} resolved` : "";
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
      bar.append(svg("title", {}, `${rowName} ${seriesName}: ${label(row[field])}`));
      chart.append(bar);
      if (!stacked) chart.append(svg("text", { x: labelWidth + w + 6, y: y + barHeight - 3, class: "value" }, label(row[field])));
      offset += w;
    });
    if (stacked && !narrow) chart.append(svg("text", { x: labelWidth + offset + 8, y: barsTop + barHeight - 5, class: "value" }, counts));
  });
  if (!narrow) chart.append(svg("line", { x1: labelWidth, x2: labelWidth, y1: top - 4, y2: height, class: "axis" }));
  return h("div", { class: "chart-wrap" }, chart);
}
