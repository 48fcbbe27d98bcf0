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

export function toast(message, href, kind = "info") {
  const region = $("#toasts");
  const item = h(
    "div",
    { class: `toast ${kind}` },
    h("span", { class: "toast-text", text: message }),
    href ? h("a", { href, class: "toast-link" }, "Open") : null,
    h("button", { type: "button", class: "ghost", "aria-label": "Dismiss notification", onclick: () => item.remove() }, "×"),
  );
  region.append(item);
  while (region.children.length > 6) region.firstElementChild.remove();
  setTimeout(() => item.remove(), 12000);
}

// "(3) oncall": a background tab says how many incidents nobody has acknowledged yet.
export function updateTabTitle() {
  const count = state.unacknowledged.size;
  document.title = count ? `(${count}${state.moreUnacknowledged ? "+" : ""}) oncall` : "oncall";
}
