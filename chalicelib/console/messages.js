// Sent messages: every SMS and email the local runtime (make run) sent, links and all.

import { api, explain } from "./api.js";
import { h } from "./dom.js";
import { can, state } from "./state.js";

export async function showLocalPages() {
  // Only the local runtime answers this; anywhere else the link stays hidden.
  if (!can("manage")) return;
  try {
    await api("GET", "/api/local/messages");
  } catch (error) {
    return;
  }
  for (const link of document.querySelectorAll("#nav a[data-local]")) link.hidden = false;
}

function withLinks(text) {
  // Text as text nodes; only http and https URLs become links.
  const parts = [];
  let rest = text;
  const url = /https?:\/\/[^\s<>"]+/;
  for (let found = url.exec(rest); found; found = url.exec(rest)) {
    parts.push(rest.slice(0, found.index), h("a", { href: found[0], class: "message-link" }, found[0]));
    rest = rest.slice(found.index + found[0].length);
  }
  parts.push(rest);
  return parts;
}

export async function messagesPage(view) {
  view.append(
    h("div", { class: "page-head" }, h("h1", {}, "Sent messages")),
    h("p", { class: "muted" }, "Every SMS and email oncall sent while running locally, newest first. Links in them work here."),
  );
  let answer;
  try {
    answer = await api("GET", "/api/local/messages");
  } catch (error) {
    if (error.status !== 401) view.append(h("p", { class: "panel error-text", role: "alert" }, explain(error)));
    return;
  }
  if (state.route.page !== "messages") return;
  if (!answer.messages.length) {
    view.append(h("p", { class: "panel", id: "no-messages" }, "Nothing sent yet. Pages go out when an incident becomes someone's."));
    return;
  }
  const list = h("ol", { class: "messages", id: "messages" });
  for (const message of answer.messages) {
    list.append(
      h(
        "li",
        { class: "panel message" },
        h("div", { class: "message-head" }, h("span", { class: "role" }, message.kind === "sms" ? "SMS" : "Email"), " to ", h("strong", {}, message.to)),
        message.subject ? h("div", { class: "message-subject" }, message.subject) : null,
        h("pre", { class: "message-text" }, ...withLinks(message.text)),
      ),
    );
  }
  view.append(list);
}

