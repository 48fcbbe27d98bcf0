// The JSON API, called with the tab's key, and its refusals explained in words.

import { KEY_STORAGE, state } from "./state.js";
import { notice, toast } from "./notices.js";
import { signOut } from "./session.js";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code;
    this.field = body && body.field;
  }
}

export async function api(method, path, body, token) {
  const key = token || sessionStorage.getItem(KEY_STORAGE);
  const headers = { Accept: "application/json" };
  if (key) headers.Authorization = `Bearer ${key}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    // Relative to the page, so the console also works under an API Gateway stage prefix.
    response = await fetch(path.replace(/^\//, ""), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch (error) {
    throw new ApiError(0, { error: "The server could not be reached; check your connection.", code: "network" });
  }
  let data = null;
  if (response.status !== 204) {
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
  }
  if (!response.ok) {
    const failure = new ApiError(response.status, data);
    if (response.status === 401 && !token) signOut(explain401(failure));
    throw failure;
  }
  return data;
}

export const q = (params) => {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== "" && value != null) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : "";
};

export async function allPages(path, field) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 20; page += 1) {
    const separator = path.includes("?") ? "&" : "?";
    const data = await api("GET", `${path}${separator}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...data[field]);
    cursor = data.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// A change the caller asked for: a toast when it is done, a notice saying why when it is not.
export async function mutate(method, path, body, success) {
  try {
    const answer = await api(method, path, body);
    notice(null);
    toast(success, null, "ok");
    return answer || true;
  } catch (error) {
    if (error.status !== 401) notice(explain(error));
    return null;
  }
}

export function explain401(error) {
  return `Signed out: the server refused your API key (401 Unauthorized). ${error.message} Sign in with a valid key; an admin can create one for you.`;
}

export function explain(error) {
  if (error.status === 403) {
    const role = state.me ? state.me.role : "your";
    return `Not allowed (403 Forbidden) for a ${role} key: ${error.message}`;
  }
  if (error.status === 401) return explain401(error);
  if (error.status === 0) return error.message;
  return `${error.message} (HTTP ${error.status}${error.code ? `, ${error.code}` : ""})`;
}
