// What the page tells the caller besides the page itself: the notice under the top
// bar, toasts, and the count in the tab's title.

import { $, append, h } from "./dom.js";
import { state } from "./state.js";

export function notice(message, kind = "error") {
  const box = $("#notice");
  box.replaceChildren();
  if (!message) {
    box.hidden = true;
    return;
  }
  box.className = `notice ${kind}`;
  append(box, [
    h("span", { text: message }),
    h("button", { type: "button", class: "ghost", "aria-label": "Dismiss", onclick: () => notice(null) }, "×"),
  ]);
  box.hidden = false;
}

const TOAST_MS = 12000;
const MAX_TOASTS = 6;

// A toast fades after a while; one about an incident nobody has acknowledged yet
// (`incident` given and `sticky`) stays until dismissed or until the incident is acknowledged.
export function toast(message, href, kind = "info", { incident = null, sticky = false } = {}) {
  const region = $("#toasts");
  const item = h(
    "div",
    { class: `toast ${kind}${sticky ? " sticky" : ""}`, "data-incident": incident },
    h("span", { class: "toast-text", text: message }),
    href ? h("a", { href, class: "toast-link" }, "Open") : null,
    h("button", { type: "button", class: "ghost", "aria-label": "Dismiss notification", onclick: () => item.remove() }, "×"),
  );
  region.append(item);
  while (region.children.length > MAX_TOASTS) (region.querySelector(".toast:not(.sticky)") || region.firstElementChild).remove();
  if (!sticky) setTimeout(() => item.remove(), TOAST_MS);
}

// An incident was acknowledged or resolved: its toasts that waited for that may fade now.
export function unstickToasts(incident) {
  for (const item of document.querySelectorAll(`#toasts .toast.sticky[data-incident="${Number(incident)}"]`)) {
    item.classList.remove("sticky");
    setTimeout(() => item.remove(), TOAST_MS);
  }
}

// Alerts outside the tab: a browser notification for new and escalated incidents once
// the person allowed them, and a short tone when they ticked "Sound".
const SOUND_STORAGE = "oncall.alertSound";
let audio = null;

function soundOn() {
  return localStorage.getItem(SOUND_STORAGE) === "1";
}

function notificationsState() {
  if (!("Notification" in window)) return "unsupported";
  return Notification.permission;
}

function showAlertControls() {
  const button = $("#allow-notifications");
  const status = $("#notifications-status");
  const permission = notificationsState();
  button.hidden = permission !== "default";
  status.hidden = permission === "default";
  status.textContent = { granted: "Notifications on", denied: "Notifications blocked", unsupported: "No notifications in this browser" }[permission] || "";
  status.title = permission === "denied" ? "Allow them for this site in the browser's settings." : "";
}

export function setupAlerts() {
  const button = $("#allow-notifications");
  const sound = $("#alert-sound");
  sound.checked = soundOn();
  showAlertControls();
  button.addEventListener("click", async () => {
    try {
      await Notification.requestPermission();
    } catch (error) {
      // A browser that answers only through a callback: the state below says what it decided.
    }
    showAlertControls();
  });
  sound.addEventListener("change", () => {
    localStorage.setItem(SOUND_STORAGE, sound.checked ? "1" : "0");
    // The click is the gesture a browser wants before it lets a page make sound.
    if (sound.checked) tone();
  });
}

function tone() {
  const Context = window.AudioContext || window.webkitAudioContext;
  if (!Context) return;
  try {
    audio = audio || new Context();
    if (audio.state === "suspended") audio.resume();
    const oscillator = audio.createOscillator();
    const gain = audio.createGain();
    const start = audio.currentTime;
    oscillator.type = "sine";
    oscillator.frequency.setValueAtTime(880, start);
    oscillator.frequency.setValueAtTime(660, start + 0.15);
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.2, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
    oscillator.connect(gain).connect(audio.destination);
    oscillator.start(start);
    oscillator.stop(start + 0.4);
  } catch (error) {
    // No sound is better than a broken page.
  }
}

// One alert about an incident: a notification (replacing an earlier one about the same
// incident) that opens it when clicked, and the tone.
export function alertOutside(title, body, href, incident) {
  if (soundOn()) tone();
  if (notificationsState() !== "granted") return;
  try {
    const shown = new Notification(title, { body, tag: `incident-${incident}`, lang: "en" });
    shown.onclick = () => {
      window.focus();
      location.hash = href;
      shown.close();
    };
  } catch (error) {
    // Some browsers (Android Chrome) only notify through a service worker; the toast remains.
  }
}

// "(3) oncall": a background tab says how many incidents nobody has acknowledged yet.
export function updateTabTitle() {
  const count = state.unacknowledged.size;
  document.title = count ? `(${count}${state.moreUnacknowledged ? "+" : ""}) oncall` : "oncall";
}
