// What the console knows: the signed-in caller, what the last refresh saw, the
// incidents page's filters and selection.

export const KEY_STORAGE = "oncall.key";
const REFRESH_STORAGE = "oncall.refreshMs";
const DEFAULT_REFRESH_MS = 10000;
export const OPEN = ["TRIGGERED", "ESCALATED", "ACKNOWLEDGED"];
export const STATUSES = ["TRIGGERED", "ESCALATED", "ACKNOWLEDGED", "RESOLVED"];
export const SEVERITIES = ["critical", "error", "warning", "info"];
export const CAN_ACK = ["TRIGGERED", "ESCALATED"];
export const CAN_RESOLVE = ["ACKNOWLEDGED"];
// An incident nobody was on call for, as a sentence and as a value (the log and messages say the same).
export const UNASSIGNED = "unassigned: nobody is on call";
export const UNASSIGNED_VALUE = "unassigned (nobody is on call)";
const ROLE_CAN = {
  admin: { read: true, trigger: true, respond: true, manage: true },
  responder: { read: true, trigger: true, respond: true, manage: false },
  integration: { read: false, trigger: true, respond: false, manage: false },
};

export const state = {
  me: null,
  known: null, // incident id -> its status at the last refresh
  unacknowledged: new Set(), // ids of the TRIGGERED and ESCALATED incidents, for the tab title
  moreUnacknowledged: false, // the last refresh saw only the first page of them
  // What this page's own actions returned, by incident id: {status, waits, watch}, where watch is
  // how many fetches of the watched incidents had begun then. A fetch that began before
  // an action does not hold it, and must not undo it (the tab title, the next toasts).
  learned: new Map(),
  watches: 0,
  appliedWatch: 0, // the newest fetch of the watched incidents whose answer the page took
  services: new Set(),
  timer: null,
  refreshing: false,
  route: null,
  filters: { status: "", service: "", q: "", mine: false }, // kept in the hash: #/incidents?status=&service=&q=&mine=1
  highlighted: null, // the incident list's row that j/k moved to (its id)
  listHash: "#/incidents", // the list as last filtered, for the detail page's way back
  selected: new Set(),
  focusAfterRender: null, // the id of what to focus once the page is drawn again
  drafts: null, // {id, values, focused}: the detail page's forms across a re-draw
};

export function can(action) {
  return Boolean(state.me && ROLE_CAN[state.me.role] && ROLE_CAN[state.me.role][action]);
}

export function refreshMs() {
  // ?refresh=<ms> (kept for the tab in sessionStorage) shortens the poll for tests and demos.
  const fromQuery = new URLSearchParams(location.search).get("refresh");
  if (fromQuery && /^\d+$/.test(fromQuery)) sessionStorage.setItem(REFRESH_STORAGE, fromQuery);
  const stored = Number(sessionStorage.getItem(REFRESH_STORAGE));
  return stored >= 500 ? stored : DEFAULT_REFRESH_MS;
}

// An incident the API just returned, newer than what the last refresh saw.
export function remember(incident) {
  // Waiting for someone: not acknowledged, and not held by a maintenance window.
  const waits = CAN_ACK.includes(incident.status) && !incident.suppressed;
  state.learned.set(incident.id, { status: incident.status, waits, watch: state.watches });
  if (state.known) state.known.set(incident.id, incident.status);
  state.services.add(incident.service_name);
  if (waits) state.unacknowledged.add(incident.id);
  else state.unacknowledged.delete(incident.id);
}
