// The on-call page: who is on call now, each service's final schedule, rotations,
// shifts and overrides, escalation policies; for admins, the forms that change them.

import { ApiError, allPages, api, explain, mutate, q } from "./api.js";
import { $, h } from "./dom.js";
import { servicesDatalist, timeEl, when } from "./format.js";
import { render } from "./main.js";
import { notice, toast } from "./notices.js";
import { KEY_STORAGE, UNASSIGNED, can, state } from "./state.js";

function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export async function oncallPage(view) {
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
    h("section", { class: "panel", "aria-labelledby": "schedule-head" }, h("h2", { id: "schedule-head" }, "The next two weeks"), finalSchedules(schedules, now)),
    h("section", { class: "panel", "aria-labelledby": "calendar-head" }, h("h2", { id: "calendar-head" }, "Calendar subscriptions"), calendarPanel()),
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

// "1 interval", "2 intervals".
function count(n, noun, plural = `${noun}s`) {
  return `${n} ${n === 1 ? noun : plural}`;
}

// Distinct colours, one per person on the page, in the order of their names; past the
// palette, hues a golden angle apart.
const PALETTE = ["#b9d5f7", "#bfe8cf", "#f8dca6", "#d8cff7", "#b5e6eb", "#f2c7e1", "#e3e8a8", "#f5c4b5", "#c9d3e0", "#a9e0c0"];

function colourOf(index) {
  return index < PALETTE.length ? PALETTE[index] : `hsl(${Math.round((index * 137.508) % 360)} 70% 82%)`;
}

const DAY_MS = 24 * 3600 * 1000;

// Each service's final schedule: a bar whose segments are as long as the time they
// cover (gaps stand out) over a time axis of days with a "now" marker, a legend of
// who is who, and the same intervals as a table for reading and for screen readers.
function finalSchedules(schedules, now) {
  if (!schedules.length) return h("p", { class: "muted" }, "No services yet.");
  const people = [...new Set(schedules.flatMap((schedule) => schedule.intervals.filter((i) => !i.gap).map((i) => i.user)))].sort();
  const colours = new Map(people.map((user, index) => [user, colourOf(index)]));
  const swatch = (colour, gap) => {
    const mark = h("span", { class: `swatch${gap ? " gap" : ""}`, "aria-hidden": "true" });
    if (colour) mark.style.backgroundColor = colour;
    return mark;
  };
  const legend = h(
    "ul",
    { class: "schedule-legend", id: "schedule-legend", "aria-label": "Who is who in the schedules" },
    people.map((user) => h("li", { "data-user": user }, swatch(colours.get(user)), user)),
    schedules.some((schedule) => schedule.intervals.some((i) => i.gap)) ? h("li", { class: "legend-gap" }, swatch(null, true), "Nobody on call (gap)") : null,
  );
  return [legend, ...schedules.map((schedule) => oneSchedule(schedule, colours, now))];
}

function oneSchedule(schedule, colours, now) {
  const from = new Date(schedule.from).getTime();
  const to = new Date(schedule.to).getTime();
  const span = to - from;
  const at = (moment) => `${(((moment - from) / span) * 100).toFixed(3)}%`;
  const gaps = schedule.intervals.filter((interval) => interval.gap).length;
  const segments = schedule.intervals.map((interval) => {
    const start = new Date(interval.start).getTime();
    const length = new Date(interval.end).getTime() - start;
    const who = interval.gap ? "Nobody on call" : interval.user;
    const label = `${who}: ${when(interval.start)} – ${when(interval.end)}`;
    // Wide enough for a few letters: the name (cut with an ellipsis); narrower, only the title and the label.
    const roomy = length / span >= 0.02;
    const segment = h("span", { class: `segment${interval.gap ? " gap" : ""}`, role: "img", title: label, "aria-label": label }, roomy ? h("span", { class: "segment-text" }, who) : null);
    // Through the CSSOM: the page's CSP allows no inline style attributes.
    segment.style.flexGrow = String(Math.max(length / span, 0.0001));
    if (!interval.gap) segment.style.backgroundColor = colours.get(interval.user);
    return segment;
  });
  // A tick at each local midnight inside the span, a date under it.
  const ticks = [];
  const midnight = new Date(from);
  midnight.setHours(0, 0, 0, 0);
  for (let day = midnight.getTime() + DAY_MS; day < to; ) {
    const date = new Date(day);
    const tick = h(
      "span",
      { class: `tick${date.getDay() === 1 ? " week" : ""}` },
      h("span", { class: "tick-label" }, date.toLocaleDateString(undefined, { weekday: "short", day: "numeric", month: "short" })),
    );
    tick.style.left = at(day);
    ticks.push(tick);
    const next = new Date(date);
    next.setDate(next.getDate() + 1);
    day = next.getTime();
  }
  const marker = now >= from && now <= to ? h("span", { class: "now-marker", title: `Now: ${when(new Date(now).toISOString())}` }, h("span", { class: "now-label" }, "now")) : null;
  if (marker) marker.style.left = at(now);
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
  const subscribing = Boolean(state.me && state.me.user && can("respond"));
  return h(
    "div",
    { class: "schedule", "data-service": schedule.service_name },
    h(
      "h3",
      {},
      schedule.service_name,
      " ",
      gaps ? h("span", { class: "badge gap-badge" }, count(gaps, "gap")) : h("span", { class: "badge now" }, "No gaps"),
      " ",
      subscribing
        ? h("button", { type: "button", class: "small", "aria-label": `Subscribe to the schedule of ${schedule.service_name} in a calendar app`, onclick: () => subscribe({ service_name: schedule.service_name }, `the schedule of ${schedule.service_name}`) }, "Subscribe")
        : null,
      " ",
      h("button", { type: "button", class: "small", "aria-label": `Download the schedule of ${schedule.service_name} as a calendar file`, onclick: () => downloadCalendar(schedule.service_name) }, "Download .ics"),
    ),
    h(
      "div",
      { class: "schedule-timeline" },
      h("div", { class: "bar", role: "group", "aria-label": `Who is on call for ${schedule.service_name}, in time order` }, segments),
      h("div", { class: "schedule-axis", "aria-hidden": "true" }, ticks),
      marker,
    ),
    h(
      "details",
      {},
      h("summary", {}, `${count(schedule.intervals.length, "interval")} from `, timeEl(schedule.from), " to ", timeEl(schedule.to)),
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
}

// Calendar subscriptions: a secret URL per feed that a calendar app polls without a
// key. The console shows a new one once, and lists the signed-in user's feeds to revoke.
function calendarPanel() {
  const user = state.me && state.me.user;
  if (!user || !can("respond")) {
    return h(
      "p",
      { class: "muted" },
      "Calendar subscriptions belong to a person: sign in with a key that acts as a user to subscribe to a schedule or to your own shifts. Download .ics above gives a one-off file.",
    );
  }
  const list = h("div", { id: "calendar-feeds" }, h("p", { class: "muted" }, "Loading…"));
  loadFeeds(list);
  return [
    h(
      "p",
      { class: "muted" },
      "A subscription is a secret link a calendar app (Google Calendar, Outlook, Apple Calendar) checks by itself, with no API key: Subscribe next to a schedule above, or to your own turns on call in every service. Anyone with the link reads that calendar; revoke a link to stop it at once.",
    ),
    h("div", { class: "actions" }, h("button", { type: "button", id: "subscribe-mine", onclick: () => subscribe({}, "your shifts") }, "Subscribe to my shifts")),
    h("div", { id: "feed-new", "aria-live": "polite" }),
    h("h3", {}, `Your calendar subscriptions (${user})`),
    list,
  ];
}

async function subscribe(body, what) {
  const user = state.me.user;
  const made = await mutate("POST", `/api/users/${encodeURIComponent(user)}/calendar-feeds`, body, `Made a calendar subscription to ${what}`);
  const box = $("#feed-new");
  if (!made || !box) return;
  const copyField = (id, label, value) =>
    h(
      "div",
      { class: "field copy-field" },
      h("label", { for: id }, label),
      h(
        "div",
        { class: "copy-row" },
        h("input", { id, type: "text", readonly: true, value, spellcheck: "false", autocomplete: "off" }),
        h("button", { type: "button", class: "small", "aria-label": `Copy the ${label.toLowerCase()}`, onclick: () => copy(id) }, "Copy"),
      ),
    );
  box.replaceChildren(
    h(
      "div",
      { class: "feed-once", "data-id": made.id },
      h("h3", {}, `New subscription to ${what}`),
      h("p", {}, h("strong", {}, "Shown only this once: "), "copy it into your calendar app now. Keep it secret; revoke it below if it leaks."),
      h("p", {}, h("a", { href: made.webcal, id: "feed-webcal-link" }, "Open in your calendar app")),
      copyField("feed-webcal", "Calendar app link (webcal)", made.webcal),
      copyField("feed-url", "Web address (https)", made.url),
      h("button", { type: "button", class: "ghost small", onclick: () => box.replaceChildren() }, "Done, hide the link"),
    ),
  );
  box.scrollIntoView({ block: "nearest" });
  $("#feed-webcal").focus();
  const list = $("#calendar-feeds");
  if (list) loadFeeds(list);
}

async function copy(id) {
  const field = $(`#${id}`);
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
  } catch (error) {
    // Without the asynchronous clipboard (an http page, or no permission): the old way.
    if (!document.execCommand("copy")) {
      notice("The browser would not copy: the link is selected, copy it with the keyboard.");
      return;
    }
  }
  toast("Copied to the clipboard", null, "ok");
}

async function loadFeeds(list) {
  const user = state.me.user;
  let feeds;
  try {
    feeds = (await api("GET", `/api/users/${encodeURIComponent(user)}/calendar-feeds`)).calendar_feeds;
  } catch (error) {
    if (error.status !== 401) list.replaceChildren(h("p", { class: "error-text", role: "alert" }, explain(error)));
    return;
  }
  if (!feeds.length) {
    list.replaceChildren(h("p", { class: "muted" }, "None yet."));
    return;
  }
  const whatOf = (feed) => (feed.kind === "service" ? `The schedule of ${feed.subject}` : `The shifts of ${feed.subject}`);
  list.replaceChildren(
    h("p", { class: "muted small" }, count(feeds.length, "subscription"), " (at most 10)"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "grid", id: "feeds-table" },
        h("caption", { class: "sr-only" }, "Your calendar subscriptions"),
        h("thead", {}, h("tr", {}, ["Calendar", "Made"].map((l) => h("th", { scope: "col" }, l)), h("th", { scope: "col" }, h("span", { class: "sr-only" }, "Actions")))),
        h(
          "tbody",
          {},
          feeds.map((feed) =>
            h(
              "tr",
              { "data-id": feed.id },
              h("td", { "data-label": "Calendar" }, whatOf(feed)),
              h("td", { "data-label": "Made" }, timeEl(feed.created_at)),
              h(
                "td",
                { class: "row-actions" },
                h(
                  "button",
                  {
                    type: "button",
                    class: "danger small",
                    "aria-label": `Revoke the subscription to ${whatOf(feed).toLowerCase()} made ${when(feed.created_at)}`,
                    onclick: async (event) => {
                      event.currentTarget.disabled = true;
                      if (await mutate("DELETE", `/api/users/${encodeURIComponent(user)}/calendar-feeds/${encodeURIComponent(feed.id)}`, undefined, `Revoked: ${whatOf(feed)} no longer reaches that link`)) {
                        const shown = $(`#feed-new .feed-once[data-id="${feed.id}"]`);
                        if (shown) shown.parentElement.replaceChildren();
                      }
                      loadFeeds(list);
                    },
                  },
                  "Revoke",
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
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
