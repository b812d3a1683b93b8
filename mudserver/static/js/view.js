// The map: a top-down view of the ground plane on a <canvas>. x grows east
// (right), y grows north (up); z, the height, is written next to the name.
// Players are round marks; things are drawn by kind (things.js), with a
// dashed ring while they are within reach of a click.

import { groundDistance, isThing, REACH, styleOf } from "./things.js";

const GRID_STEPS = [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const COLORS = {
  ground: "#eef3e8",
  grid: "#d3dccb",
  axis: "#a9b79c",
  label: "#5b6652",
  other: "#3b6ea5",
  own: "#d9480f",
  name: "#1d2418",
  target: "#d9480f",
};

export class MapView {
  /** Draws `state` (a WorldState) on `canvas`, centred on the own player. */
  constructor(canvas, state) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.state = state;
    this.scale = 24; // pixels per world unit
    this.fitted = false; // the first resize picks a scale for the screen
    this.center = { x: 0, y: 0 };
    this.target = null; // where the own player was sent, until it gets there
    this.width = 0;
    this.height = 0;
    this.drawn = []; // [{ entity, x, y }] in CSS pixels, as last drawn: what a click hits
  }

  /** Match the canvas' pixels to its size on the page (sharp on high-DPI screens). */
  resize() {
    const ratio = window.devicePixelRatio || 1;
    const { width, height } = this.canvas.getBoundingClientRect();
    this.width = width;
    this.height = height;
    this.canvas.width = Math.max(1, Math.round(width * ratio));
    this.canvas.height = Math.max(1, Math.round(height * ratio));
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    if (!this.fitted && width > 0 && height > 0) {
      // First sight: about 24 units across the shorter side, phone or desktop.
      this.scale = Math.min(40, Math.max(10, Math.min(width, height) / 24));
      this.fitted = true;
    }
  }

  zoom(factor) {
    this.scale = Math.min(200, Math.max(0.02, this.scale * factor));
  }

  /** The world point (x, y) under a point of the canvas, in CSS pixels. */
  toWorld(px, py) {
    return {
      x: this.center.x + (px - this.width / 2) / this.scale,
      y: this.center.y - (py - this.height / 2) / this.scale,
    };
  }

  toScreen(x, y) {
    return {
      x: this.width / 2 + (x - this.center.x) * this.scale,
      y: this.height / 2 - (y - this.center.y) * this.scale,
    };
  }

  draw(now) {
    const own = this.state.own;
    if (own) {
      const p = this.state.drawnPosition(own, now);
      this.center = { x: p.x, y: p.y };
      if (this.target && Math.hypot(own.x - this.target.x, own.y - this.target.y) < 0.01) {
        this.target = null;
      }
    }
    const ctx = this.ctx;
    ctx.fillStyle = COLORS.ground;
    ctx.fillRect(0, 0, this.width, this.height);
    this._grid();
    if (this.target) this._target(this.target);
    const entities = Object.values(this.state.entities);
    // Things first, the own player last: nobody is hidden under a sheep, nor you under anyone.
    const layer = (e) => (isThing(e) ? 0 : e.id === this.state.ownId ? 2 : 1);
    entities.sort((a, b) => layer(a) - layer(b));
    const labelsAt = new Map(); // entities on one spot get their names stacked, not overprinted
    const ownAt = own ? this.state.drawnPosition(own, now) : null;
    this.drawn = [];
    for (const e of entities) {
      const p = this.state.drawnPosition(e, now);
      const s = this.toScreen(p.x, p.y);
      const spot = `${Math.round(s.x / 12)},${Math.round(s.y / 12)}`;
      const stacked = labelsAt.get(spot) || 0;
      labelsAt.set(spot, stacked + 1);
      if (isThing(e)) this._thing(e, p, stacked, ownAt && groundDistance(ownAt, p) <= REACH);
      else this._entity(e, p, stacked);
      this.drawn.push({ entity: e, x: s.x, y: s.y });
    }
    this._compass();
  }

  _grid() {
    const ctx = this.ctx;
    const step = GRID_STEPS.find((s) => s * this.scale >= 48) ?? GRID_STEPS.at(-1);
    const topLeft = this.toWorld(0, 0);
    const bottomRight = this.toWorld(this.width, this.height);
    ctx.lineWidth = 1;
    ctx.font = "11px system-ui, sans-serif";
    ctx.fillStyle = COLORS.label;
    ctx.textBaseline = "top";
    ctx.textAlign = "left";
    for (let x = Math.ceil(topLeft.x / step) * step; x <= bottomRight.x; x += step) {
      const sx = Math.round(this.toScreen(x, 0).x) + 0.5;
      ctx.strokeStyle = Math.abs(x) < step / 2 ? COLORS.axis : COLORS.grid;
      ctx.beginPath();
      ctx.moveTo(sx, 0);
      ctx.lineTo(sx, this.height);
      ctx.stroke();
      if (sx < this.width - 40) ctx.fillText(label(x), sx + 3, 3);
    }
    for (let y = Math.ceil(bottomRight.y / step) * step; y <= topLeft.y; y += step) {
      const sy = Math.round(this.toScreen(0, y).y) + 0.5;
      ctx.strokeStyle = Math.abs(y) < step / 2 ? COLORS.axis : COLORS.grid;
      ctx.beginPath();
      ctx.moveTo(0, sy);
      ctx.lineTo(this.width, sy);
      ctx.stroke();
      if (sy > 18) ctx.fillText(label(y), 3, sy + 3);
    }
  }

  _entity(e, p, stacked) {
    const ctx = this.ctx;
    const own = e.id === this.state.ownId;
    const s = this.toScreen(p.x, p.y);
    const radius = own ? 9 : 7;
    ctx.beginPath();
    ctx.arc(s.x, s.y, radius, 0, Math.PI * 2);
    ctx.fillStyle = own ? COLORS.own : COLORS.other;
    ctx.fill();
    ctx.lineWidth = own ? 3 : 1.5;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    if (own) {
      ctx.beginPath();
      ctx.arc(s.x, s.y, radius + 4, 0, Math.PI * 2);
      ctx.lineWidth = 2;
      ctx.strokeStyle = COLORS.own;
      ctx.stroke();
    }
    ctx.font = `${own ? "bold " : ""}13px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillStyle = COLORS.name;
    const height = Math.abs(p.z) >= 0.005 ? ` ↑${p.z.toFixed(1)}` : "";
    ctx.fillText(`${e.name}${height}`, s.x, s.y - radius - (own ? 6 : 3) - stacked * 15);
  }

  /** A thing: its kind's shape and colour, its name in italics, a ring when within reach. */
  _thing(e, p, stacked, inReach) {
    const ctx = this.ctx;
    const s = this.toScreen(p.x, p.y);
    const style = styleOf(e.kind);
    const size = 7;
    ctx.beginPath();
    shape(ctx, style.shape, s.x, s.y, size);
    ctx.fillStyle = style.color;
    ctx.fill();
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke();
    if (inReach) {
      ctx.beginPath();
      ctx.arc(s.x, s.y, size + 5, 0, Math.PI * 2);
      ctx.setLineDash([3, 3]);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = style.color;
      ctx.stroke();
      ctx.setLineDash([]);
    }
    ctx.font = "italic 12px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillStyle = style.label;
    ctx.fillText(e.name, s.x, s.y - size - 4 - stacked * 15);
  }

  _target(t) {
    const ctx = this.ctx;
    const s = this.toScreen(t.x, t.y);
    ctx.strokeStyle = COLORS.target;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(s.x - 6, s.y - 6);
    ctx.lineTo(s.x + 6, s.y + 6);
    ctx.moveTo(s.x + 6, s.y - 6);
    ctx.lineTo(s.x - 6, s.y + 6);
    ctx.stroke();
  }

  _compass() {
    const ctx = this.ctx;
    ctx.font = "bold 12px system-ui, sans-serif";
    ctx.fillStyle = COLORS.label;
    ctx.textAlign = "right";
    ctx.textBaseline = "top";
    ctx.fillText("N ↑", this.width - 8, 8);
    ctx.textBaseline = "bottom";
    ctx.font = "11px system-ui, sans-serif";
    const c = this.center;
    ctx.fillText(`${c.x.toFixed(1)}, ${c.y.toFixed(1)}`, this.width - 8, this.height - 6);
  }
}

/** Trace a mark of `kind` ("diamond", "triangle", "square", "hexagon") around (x, y). */
function shape(ctx, kind, x, y, r) {
  const corners = { diamond: 4, triangle: 3, square: 4, hexagon: 6 }[kind] || 6;
  const turn = kind === "square" ? Math.PI / 4 : -Math.PI / 2;
  const radius = kind === "square" ? r * 1.15 : r * 1.25;
  for (let i = 0; i < corners; i++) {
    const angle = turn + (i * 2 * Math.PI) / corners;
    const cx = x + radius * Math.cos(angle);
    const cy = y + radius * Math.sin(angle);
    if (i === 0) ctx.moveTo(cx, cy);
    else ctx.lineTo(cx, cy);
  }
  ctx.closePath();
}

function label(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}
