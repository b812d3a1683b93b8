// The page: wires the connection, the world state, the map and the forms.
// window.mud exposes the state for tests and for the curious (devtools).

import { enquote, formatLine, formatNumber } from "./codec.js";
import { Connection, socketUrl } from "./connection.js";
import { MapView } from "./view.js";
import { BYES, ERRORS, WorldState } from "./world.js";

// Version 2: one `wlk` per walk, which world.js extrapolates every frame.
const PROTOCOL_VERSION = "2";

const $ = (id) => document.getElementById(id);
const state = new WorldState();
const view = new MapView($("map"), state);
let connection = null;
let credentials = null; // { name, password } of the last login, kept in memory only
let playing = false;

// -- connection ------------------------------------------------------------------

function login() {
  if (!connection || connection.state === "disconnected") {
    connection = new Connection(socketUrl(window.location), { onLine, onState });
    connection.connect();
  }
  state.bye = null;
  connection.send(formatLine("con", credentials.name, credentials.password, PROTOCOL_VERSION));
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
  if (code === "wel") {
    setPlaying(true);
    $("whoami").textContent = args[1];
  } else if (code === "say") {
    const { name, text, own } = state.chat.at(-1);
    addChat(name, text, own ? "own" : "");
  } else if (code === "sys") {
    addChat("server", args[0], "sys");
  } else if (code === "who") {
    const [online, inView, ...names] = args;
    const more = Number(inView) > names.length ? ` and ${Number(inView) - names.length} more` : "";
    const seen = names.length ? `; in view: ${names.join(", ")}${more}` : "; nobody else in view";
    addChat("server", `${online} online${seen}`, "sys");
  } else if (code === "err") {
    const message = ERRORS[args[0]] || args[1] || args[0];
    if (playing) addChat("server", message, "system");
    else showLoginError(message);
  }
});

// -- screens ---------------------------------------------------------------------

function setPlaying(on) {
  playing = on;
  $("game").hidden = !on;
  $("login").hidden = on;
  $("logout").hidden = !on;
  if (on) {
    $("notice").hidden = true;
    view.resize();
    $("chat-input").focus();
  } else {
    $("whoami").textContent = "";
    view.target = null;
  }
}

function showLogin(error) {
  $("notice").hidden = true;
  $("login").hidden = false;
  showLoginError(error);
}

function showLoginError(message) {
  $("login-error").hidden = !message;
  $("login-error").textContent = message || "";
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

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const fields = event.target.elements; // not form.name: that is the form's own name
  credentials = {
    name: fields.namedItem("name").value.trim(),
    password: fields.namedItem("password").value,
  };
  showLoginError(null);
  login();
});

$("reconnect").addEventListener("click", () => {
  $("notice").hidden = true;
  if (credentials) login();
  else showLogin(null);
});

$("logout").addEventListener("click", () => connection && connection.send("bye"));

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-input");
  if (!input.value.trim() || !connection) return;
  // "/who" asks the server who is around; everything else is chat.
  if (input.value.trim().toLowerCase() === "/who") connection.send("who");
  else connection.send(`say ${enquote(input.value)}`);
  input.value = "";
});

$("map").addEventListener("click", (event) => {
  const own = state.own;
  if (!own || !connection) return;
  const rect = event.currentTarget.getBoundingClientRect();
  const to = view.toWorld(event.clientX - rect.left, event.clientY - rect.top);
  const [x, y, z] = [to.x, to.y, own.z].map(formatNumber);
  connection.send(formatLine("mov", x, y, z));
  view.target = { x: Number(x), y: Number(y) };
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
