// Things on the map: the people, creatures and objects a game puts in the world
// (docs/protocol.md, section 5.3). How each kind looks, which one a click or tap
// hit, and what clicking it does: use it when it is within reach, walk toward it
// when it is not. Pure functions, no DOM: view.js draws with them, main.js acts.

import { PLAYER } from "./world.js";

/**
 * How near a thing must be, on the ground plane, to use it: the server's
 * default `--use-reach`. A server set nearer answers `err toofar`, and the
 * page then walks closer (main.js); one set farther only means a walk first.
 */
export const REACH = 10;
/** Where a walk toward a thing stops: this far short of it, not on top of it. */
export const STOP_SHORT = 2;
/** How far from a thing's mark, in CSS pixels, a click or a tap still hits it. */
export const HIT_PX = 18;

/**
 * Shape and colour by kind, distinct from the players' round marks: the
 * sample game's kinds, and a hexagon for any word a game chooses itself.
 */
export const KIND_STYLES = {
  npc: { shape: "diamond", color: "#7048e8", label: "#4c2ebd" },
  creature: { shape: "triangle", color: "#5c940d", label: "#3f6a08" },
  thing: { shape: "square", color: "#b7791f", label: "#7c520f" },
};
const OTHER_STYLE = { shape: "hexagon", color: "#0c8599", label: "#095c6a" };

/** The style a thing of `kind` is drawn with. */
export function styleOf(kind) {
  return Object.hasOwn(KIND_STYLES, kind) ? KIND_STYLES[kind] : OTHER_STYLE;
}

export function isThing(entity) {
  return entity.kind !== PLAYER;
}

/** Distance on the ground plane, which is what reach is measured on. */
export function groundDistance(a, b) {
  return Math.hypot(a.x - b.x, a.y - b.y);
}

/**
 * The thing drawn nearest to the screen point (px, py), within HIT_PX, or null.
 * `positions` is [{ entity, x, y }] in screen pixels, as the view last drew them.
 */
export function thingAt(positions, px, py, hit = HIT_PX) {
  let best = null;
  let bestDistance = hit;
  for (const drawn of positions) {
    if (!isThing(drawn.entity)) continue;
    const distance = Math.hypot(drawn.x - px, drawn.y - py);
    if (distance <= bestDistance) {
      best = drawn.entity;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * What clicking `thing` does for a player standing at `own` (both {x, y}, in
 * world units): { use: id } within `reach`, else { walk: {x, y} }, a point
 * STOP_SHORT before the thing on the straight line to it.
 */
export function clickOnThing(own, thing, reach = REACH) {
  const distance = groundDistance(own, thing);
  if (distance <= reach) return { use: thing.id };
  const share = (distance - STOP_SHORT) / distance;
  return {
    walk: { x: own.x + (thing.x - own.x) * share, y: own.y + (thing.y - own.y) * share },
  };
}
