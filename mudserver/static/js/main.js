// The page: wires the connection, the world state, the map and the forms.
// window.mud exposes the state for tests and for the curious (devtools).

import { passwordProblem, PasswordChange, errorText } from "./account.js";
import { enquote, formatLine, formatNumber } from "./codec.js";
import { Connection, socketUrl } from "./connection.js";
import { clickOnThing, thingAt } from "./things.js";
import { MapView } from "./view.js";
import { BYES, ERRORS, PLAYER, WorldState } from "./world.js";

// Version 2: one `wlk` per walk, which world.js extrapolates every frame.
const PROTOCOL_VERSION = "2";

const $ = (id) => document.getElementById(id);
const state = new WorldState();
const view = new MapView($("map"), state);
let connection = null;
let credentials = null; // { name, password } of the last login, kept in memory only
let playing = false;
let entering = "login"; // the form whose `con` or `new` waits for its answer
let lastUsed = null; // the id of the thing last clicked to be used, for `err toofar`

const passwordChange = new PasswordChange($("password-dialog"), send, (password) => {
  credentials = { ...credentials, password }; // a reconnect logs in with the new one
  addChat("server", "Your password was changed.", "sys");
});

// -- connection ------------------------------------------------------------------

function send(line) {
  if (connection) connection.send(line);
}

/** Open the connection if need be and send `con` (log in) or `new` (sign up). */
function enter(code) {
  if (!connection || connection.state === "disconnected") {
    connection = new Connection(socketUrl(window.location), { onLine, onState });
    connection.connect();
  }
  state.bye = null;
  entering = code === "new" ? "signup" : "login";
  connection.send(formatLine(code, credentials.name, credentials.password, PROTOCOL_VERSION));
}

function onLine(line) {
  state.receive(line, performance.now());
}

function onState(status, closeEvent) {
  const indicator = $("status");
  indicator.dataset.state = status;
  indicator.textContent = status;
  if (status !== "disconnected") return;
  const wasPlaying = playing;
  setPlaying(false);
  const reason = state.bye;
  if (reason === "quit") return showLogin(null);
  if (reason === "badlogin") return showLogin(BYES.badlogin);
  if (!wasPlaying && reason === null) {
    return showLogin("Could not reach the server. Try again in a moment.");
  }
  const code = closeEvent && closeEvent.code;
  showNotice(BYES[reason] || `Disconnected from the server${code ? ` (code ${code})` : ""}.`);
}

state.subscribe(({ code, args }) => {
  if (passwordChange.receive(code, args)) return;
  if (code === "wel") {
    setPlaying(true);
    $("whoami").textContent = args[1];
  } else if (code === "say" || code === "msg") {
    const { name, text, own, kind } = state.chat.at(-1);
    if (code === "msg") addChat(`${name || "game"} → you`, text, "msg");
    else addChat(name, text, own ? "own" : kind === PLAYER ? "" : "thing");
  } else if (code === "sys") {
    addChat("server", args[0], "sys");
  } else if (code === "who") {
    const [online, inView, ...names] = args;
    const more = Number(inView) > names.length ? ` and ${Number(inView) - names.length} more` : "";
    const seen = names.length ? `; in view: ${names.join(", ")}${more}` : "; nobody else in view";
    addChat("server", `${online} online${seen}`, "sys");
  } else if (code === "err") {
    if (!playing) return showLoginError(errorText(args[0], args[1]));
    addChat("server", ERRORS[args[0]] || args[1] || args[0], "system");
    if (args[0] === "toofar") walkToward(state.entities[lastUsed]);
  }
});

// -- screens ---------------------------------------------------------------------

function setPlaying(on) {
  playing = on;
  $("game").hidden = !on;
  $("login").hidden = on;
  $("logout").hidden = !on;
  $("password").hidden = !on;
  if (on) {
    $("notice").hidden = true;
    view.resize();
    $("chat-input").focus();
  } else {
    $("whoami").textContent = "";
    view.target = null;
    passwordChange.close();
  }
}

function showLogin(error) {
  $("notice").hidden = true;
  $("login").hidden = false;
  showLoginError(error);
}

/** An error in the form that was sent last (log in or create account); null clears both. */
function showLoginError(message) {
  for (const form of ["login", "signup"]) {
    const shown = form === entering ? message : null;
    $(`${form}-error`).hidden = !shown;
    $(`${form}-error`).textContent = shown || "";
  }
}

function showNotice(message) {
  $("notice-text").textContent = message;
  $("notice").hidden = false;
  $("login").hidden = true;
}

function addChat(name, text, kind) {
  const log = $("chat-log");
  const item = document.createElement("li");
  if (kind) item.className = kind;
  const who = document.createElement("b");
  who.textContent = name;
  item.append(who, document.createTextNode(` ${text}`));
  log.append(item);
  while (log.children.length > 200) log.firstElementChild.remove();
  log.scrollTop = log.scrollHeight;
}

// -- input -----------------------------------------------------------------------

/** Name and password of a form (not form.name: that is the form's own name). */
function typed(form) {
  const fields = form.elements;
  return { name: fields.namedItem("name").value.trim(), password: fields.namedItem("password").value };
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  credentials = typed(event.target);
  entering = "login";
  showLoginError(null);
  enter("con");
});

$("signup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const { name, password } = typed(event.target);
  entering = "signup";
  const problem = passwordProblem(password, event.target.elements.namedItem("again").value);
  showLoginError(problem);
  if (problem) return; // caught here: nothing is sent
  credentials = { name, password };
  enter("new");
});

$("reconnect").addEventListener("click", () => {
  $("notice").hidden = true;
  if (credentials) enter("con"); // after a sign-up too: the account exists now
  else showLogin(null);
});

$("logout").addEventListener("click", () => send("bye"));
$("password").addEventListener("click", () => passwordChange.open());

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-input");
  if (!input.value.trim() || !connection) return;
  // "/who" asks the server who is around; everything else is chat.
  if (input.value.trim().toLowerCase() === "/who") send("who");
  else send(`say ${enquote(input.value)}`);
  input.value = "";
});

function walkTo(x, y) {
  const own = state.own;
  const [tx, ty, tz] = [x, y, own.z].map(formatNumber);
  send(formatLine("mov", tx, ty, tz));
  view.target = { x: Number(tx), y: Number(ty) };
}

/** Walk up to a thing (it may have moved since it was clicked), stopping short of it. */
function walkToward(thing) {
  const own = state.own;
  if (!thing || !own) return;
  const now = performance.now();
  const there = { id: thing.id, ...state.drawnPosition(thing, now) };
  const { walk } = clickOnThing(state.drawnPosition(own, now), there, 0);
  if (walk) walkTo(walk.x, walk.y);
}

$("map").addEventListener("click", (event) => {
  const own = state.own;
  if (!own || !connection) return;
  const rect = event.currentTarget.getBoundingClientRect();
  const [px, py] = [event.clientX - rect.left, event.clientY - rect.top];
  const thing = thingAt(view.drawn, px, py);
  if (thing) {
    // Near enough: use it (the answer comes to the chat). Too far: walk toward it.
    const now = performance.now();
    const there = { id: thing.id, ...state.drawnPosition(thing, now) };
    const action = clickOnThing(state.drawnPosition(own, now), there);
    if (action.walk) return walkTo(action.walk.x, action.walk.y);
    lastUsed = thing.id;
    return send(formatLine("use", thing.id));
  }
  const to = view.toWorld(px, py);
  walkTo(to.x, to.y);
});

$("map").addEventListener(
  "wheel",
  (event) => {
    event.preventDefault();
    view.zoom(event.deltaY < 0 ? 1.15 : 1 / 1.15);
  },
  { passive: false },
);
$("zoom-in").addEventListener("click", () => view.zoom(1.5));
$("zoom-out").addEventListener("click", () => view.zoom(1 / 1.5));

// -- drawing ---------------------------------------------------------------------

new ResizeObserver(() => view.resize()).observe($("map"));

function frame(now) {
  if (playing) view.draw(now);
  requestAnimationFrame(frame);
}
requestAnimationFrame(frame);

window.mud = {
  state,
  view,
  get connection() {
    return connection;
  },
};
