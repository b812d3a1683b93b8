// What the client knows of the world, built from server lines alone, and the
// smooth motion drawn between them. No DOM: the view reads this state.
//
// Protocol version 2 (what the page speaks) says once where a walk goes
// (`wlk id,x,y,z,tx,ty,tz,speed`) and sends `pos` when it ends: the page
// works out every frame's position from the walk. Version 1's `pos` every
// tick is still understood: it is drawn sliding from report to report.

import { splitLine } from "./codec.js";

const CHAT_KEEP = 200; // chat lines kept in memory and on the page

/** The kind of entity a client plays; every other kind is a thing (docs/protocol.md, 5.3). */
export const PLAYER = "player";

/**
 * Messages for the err codes and bye reasons of docs/protocol.md, section 6.
 * Codes left out (toofar, badverb, weakpass...) show the server's own
 * message, which says more (how near, which verbs, how long).
 */
export const ERRORS = {
  badlogin: "Unknown user or wrong password.",
  badproto: "This server speaks another protocol version.",
  badarg: "The server did not accept that.",
  badcmd: "The server did not understand that.",
  notlogged: "Log in first.",
  already: "Already logged in.",
  taken: "That name is taken: choose another.",
  badname: "A name is 1 to 24 letters, digits or _.",
  closed: "This server does not take sign-ups now.",
  toomany: "Too many sign-ups from your address: try again later.",
  unavailable: "The server cannot reach its accounts right now: try again in a moment.",
  badpass: "The current password is wrong.",
  nosuch: "That is no longer there.",
  broken: "That is broken: the game's code failed.",
};
export const BYES = {
  quit: "You logged out.",
  timeout: "Disconnected: nothing was sent for too long.",
  toolong: "Disconnected: a message was too long.",
  badlogin: "Disconnected after too many failed logins.",
  replaced: "You logged in somewhere else.",
  shutdown: "The server is shutting down. Your progress has been saved.",
  kicked: "An operator disconnected you.",
  banned: "You are banned from this server.",
};

/**
 * Where a walk has got to at `now` (ms): from + unit(to - from) *
 * min(speed * elapsed, |to - from|), plus what is left of `offset`, the gap
 * between where the entity was drawn and where the walk said it started,
 * faded out over `fadeMs` so that a new walk never makes it jump.
 */
export function walkPosition(walk, now, fadeMs) {
  const { from, to, speed, t0, offset } = walk;
  const length = Math.hypot(to.x - from.x, to.y - from.y, to.z - from.z);
  const walked = (speed * Math.max(0, now - t0)) / 1000;
  const share = length === 0 ? 1 : Math.min(1, walked / length);
  // A frame's time may come before the message's (requestAnimationFrame stamps
  // the frame's start): the correction is then whole, never more than whole.
  const fade = Math.min(1, Math.max(0, 1 - (now - t0) / fadeMs));
  return {
    x: from.x + (to.x - from.x) * share + offset.x * fade,
    y: from.y + (to.y - from.y) * share + offset.y * fade,
    z: from.z + (to.z - from.z) * share + offset.z * fade,
  };
}

/**
 * The world as the server told it: entities by id, the own id, the chat log.
 * `entities[id]` holds the last reported position (x, y, z), its walk if a
 * `wlk` said it is walking, and what the sliding between reports needs:
 * where the entity was drawn when the last report came in.
 */
export class WorldState {
  constructor() {
    this.reset();
  }

  reset() {
    this.entities = {};
    this.ownId = null;
    this.ownName = null;
    this.chat = [];
    this.lastError = null; // { code, message }
    this.bye = null; // reason of the server's bye line
    this.tickMs = 100; // measured time between pos batches
    this._lastBatch = null;
    this.listeners = new Set();
  }

  /** Call fn(event) after each line: {code, args}. */
  subscribe(fn) {
    this.listeners.add(fn);
  }

  /** Apply one server line; `now` is performance.now() in milliseconds. */
  receive(line, now) {
    const { code, args } = splitLine(line);
    const handler = this.handlers[code];
    if (handler) handler.call(this, args, now);
    for (const fn of this.listeners) fn({ code, args });
  }

  get own() {
    return this.ownId === null ? null : this.entities[this.ownId] || null;
  }

  /** Where entity e is drawn at `now`: along its walk, or between its last two reports. */
  drawnPosition(e, now) {
    if (e.walk) return walkPosition(e.walk, now, this.tickMs);
    const t = Math.min(1, Math.max(0, (now - e.at) / this.tickMs));
    return {
      x: e.fromX + (e.x - e.fromX) * t,
      y: e.fromY + (e.y - e.fromY) * t,
      z: e.fromZ + (e.z - e.fromZ) * t,
    };
  }

  /** Positions as numbers, for tests and debugging: [{id, name, kind, x, y, z}]. */
  snapshot() {
    return Object.values(this.entities).map(({ id, name, kind, x, y, z }) => ({
      id, name, kind, x, y, z,
    }));
  }

  _place(id, kind, name, x, y, z, now) {
    this.entities[id] = {
      id, kind, name, x, y, z, fromX: x, fromY: y, fromZ: z, at: now, walk: null,
    };
  }

  _note(entry) {
    this.chat.push(entry);
    if (this.chat.length > CHAT_KEEP) this.chat.splice(0, this.chat.length - CHAT_KEEP);
  }
}

const num = Number;

WorldState.prototype.handlers = {
  wel([id, name, x, y, z], now) {
    this.entities = {};
    this.ownId = num(id);
    this.ownName = name;
    this.lastError = null;
    this._place(num(id), "player", name, num(x), num(y), num(z), now);
  },
  ent([id, kind, name, x, y, z], now) {
    this._place(num(id), kind, name, num(x), num(y), num(z), now);
  },
  pos([id, x, y, z], now) {
    const e = this.entities[num(id)];
    if (!e) return;
    // One tick's pos lines arrive together: a gap of more than 20 ms starts a batch.
    if (this._lastBatch !== null && now - this._lastBatch > 20) {
      const gap = Math.min(500, Math.max(30, now - this._lastBatch));
      // A longer gap is a pause between walks, not the tick rate.
      if (gap < this.tickMs * 2.5) this.tickMs = this.tickMs * 0.8 + gap * 0.2;
    }
    this._lastBatch = now;
    // Version 1: the next step of a walk. Version 2: it stands here now. Either
    // way the entity slides there from where it is drawn, within one tick.
    const drawn = this.drawnPosition(e, now);
    Object.assign(e, {
      fromX: drawn.x, fromY: drawn.y, fromZ: drawn.z,
      x: num(x), y: num(y), z: num(z), at: now, walk: null,
    });
  },
  wlk([id, x, y, z, tx, ty, tz, speed], now) {
    const e = this.entities[num(id)];
    if (!e) return;
    const drawn = this.drawnPosition(e, now);
    const from = { x: num(x), y: num(y), z: num(z) };
    Object.assign(e, {
      x: from.x, y: from.y, z: from.z, at: now,
      walk: {
        from,
        to: { x: num(tx), y: num(ty), z: num(tz) },
        speed: num(speed),
        t0: now,
        offset: { x: drawn.x - from.x, y: drawn.y - from.y, z: drawn.z - from.z },
      },
    });
  },
  del([id]) {
    delete this.entities[num(id)];
  },
  say([id, name, text]) {
    const speaker = this.entities[num(id)];
    const kind = speaker ? speaker.kind : PLAYER;
    this._note({ id: num(id), name, text, own: num(id) === this.ownId, kind, private: false });
  },
  msg([id, name, text]) {
    // A thing (or with id 0 the game itself) tells this player alone.
    const teller = this.entities[num(id)];
    const kind = teller ? teller.kind : "game";
    this._note({ id: num(id), name, text, own: false, kind, private: true });
  },
  err([code, message]) {
    this.lastError = { code, message };
  },
  bye([reason]) {
    this.bye = reason;
  },
};
