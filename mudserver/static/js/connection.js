// The WebSocket to /ws: one protocol line per text message, both ways.

const KEEPALIVE_MS = 5000; // an `idl` this often keeps the idle timeout away

/** The endpoint beside the page: ws://host/ws, or wss:// when the page is https. */
export function socketUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/**
 * A connection with a state for the indicator: "disconnected", "connecting"
 * or "connected". Callbacks: onLine(line), onState(state, closeEvent).
 */
export class Connection {
  constructor(url, { onLine, onState }) {
    this.url = url;
    this.onLine = onLine;
    this.onState = onState;
    this.socket = null;
    this.state = "disconnected";
    this._keepalive = null;
    this._waiting = []; // lines sent before the socket opened
  }

  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  connect() {
    if (this.socket) return;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    this._set("connecting");
    socket.addEventListener("open", () => {
      this._set("connected");
      for (const line of this._waiting.splice(0)) socket.send(line);
      this._keepalive = setInterval(() => this.send("idl"), KEEPALIVE_MS);
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") this.onLine(event.data);
    });
    socket.addEventListener("close", (event) => {
      clearInterval(this._keepalive);
      this._keepalive = null;
      this._waiting = [];
      this.socket = null;
      this._set("disconnected", event);
    });
  }

  /** Send one line now, or once the socket is open. */
  send(line) {
    if (this.open) this.socket.send(line);
    else if (this.socket) this._waiting.push(line);
  }

  close() {
    if (this.socket) this.socket.close(1000);
  }

  _set(state, event) {
    this.state = state;
    this.onState(state, event);
  }
}
