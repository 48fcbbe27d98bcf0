// Forms that send what was typed: the button is held while the request runs, and a refusal
// is shown beside the field the API names (or the button), in the API's words.

import { api } from "./api.js";
import { clearError, errorSentence, showError } from "./format.js";
import { toast } from "./notices.js";

export function clearErrors(form) {
  for (const control of form.querySelectorAll("[aria-invalid]")) clearError(control);
}

export function placeError(form, error) {
  if (error.status === 401) return;
  const named = error.field ? form.querySelector(`[name="${CSS.escape(error.field)}"]`) : null;
  showError(named || form.querySelector("button[type=submit]"), errorSentence(error));
}

// The answer (true for an empty one), or null when the API refused; `success` is toasted when given.
export async function sendForm(form, method, path, body, success) {
  clearErrors(form);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const answer = await api(method, path, body);
    if (success) toast(success, null, "ok");
    return answer || true;
  } catch (error) {
    placeError(form, error);
    return null;
  } finally {
    button.disabled = false;
  }
}
