// The account's own forms: creating one beside logging in (`new`), and changing
// its password once logged in (`pwd`, answered by `ack pwd`). What the page can
// check by itself it checks before sending (a password typed twice must match);
// the rest (a name taken, a password too short for this server) is the server's
// to say, and the page shows what it says.

import { formatLine } from "./codec.js";
import { ERRORS } from "./world.js";

/** What is wrong with a new password typed twice, or null when nothing is. */
export function passwordProblem(password, again) {
  if (!password) return "Type a password.";
  if (password !== again) return "The two passwords differ: type the same one twice.";
  return null;
}

/** The words for an `err` that answered an account form: ours, or else the server's. */
export function errorText(code, message) {
  if (code === "badcmd") return "This server does not know that yet: it is too old for it.";
  return ERRORS[code] || message || code;
}

/** The `err` codes that answer a `pwd` (docs/protocol.md, section 6). */
const PASSWORD_ERRORS = new Set(["badpass", "badlogin", "weakpass", "unavailable", "toofast", "badarg"]);

/**
 * The password dialog: opened from the header while playing. Its form sends
 * `pwd old,new` and waits: `ack pwd` closes it and hands the new password to
 * `onChanged` (the page logs in with it next time it reconnects); an `err`
 * shows in the dialog, which stays open.
 */
export class PasswordChange {
  constructor(dialog, send, onChanged) {
    this.dialog = dialog;
    this.form = dialog.querySelector("form");
    this.error = dialog.querySelector(".error");
    this.send = send;
    this.onChanged = onChanged;
    this.waiting = null; // the new password, while its `pwd` is unanswered
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    dialog.querySelector("[data-cancel]").addEventListener("click", () => this.close());
  }

  open() {
    this.form.reset();
    this.show(null);
    this.waiting = null;
    this.dialog.showModal();
  }

  close() {
    this.waiting = null;
    if (this.dialog.open) this.dialog.close();
  }

  submit() {
    const fields = this.form.elements;
    const [old, fresh, again] = ["old", "new", "again"].map((n) => fields.namedItem(n).value);
    const problem = passwordProblem(fresh, again);
    if (problem) return this.show(problem);
    this.show(null);
    this.waiting = fresh;
    this.send(formatLine("pwd", old, fresh));
  }

  /** A server line: true when it was this dialog's answer (and is dealt with). */
  receive(code, args) {
    if (this.waiting === null) return false;
    if (code === "ack" && args[0] === "pwd") {
      const fresh = this.waiting;
      this.close();
      this.onChanged(fresh);
      return true;
    }
    if (code === "err" && (PASSWORD_ERRORS.has(args[0]) || args[0] === "badcmd")) {
      this.waiting = null;
      this.show(errorText(args[0], args[1]));
      return true;
    }
    return false;
  }

  show(message) {
    this.error.hidden = !message;
    this.error.textContent = message || "";
  }
}
