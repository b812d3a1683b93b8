// The wire codec (the same in protocol versions 1 and 2), mirroring mudserver/wire/encoding.py
// (docs/protocol.md, sections 2 and 3). Pure functions, no DOM.

const MUST_ESCAPE = /[%,\x00-\x1f\x7f]/g;
const ESCAPE = /%([0-9A-Fa-f]{2})/g;

/** Escape text so it can travel as one protocol argument. */
export function enquote(text) {
  return String(text).replace(
    MUST_ESCAPE,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"),
  );
}

/** Undo enquote: every %XX (either case) becomes U+00XX; a lone % stays. */
export function dequote(text) {
  if (!text.includes("%")) return text;
  return text.replace(ESCAPE, (_, hex) => String.fromCharCode(parseInt(hex, 16)));
}

/** One outgoing line, without its line ending (a WebSocket message is a line). */
export function formatLine(code, ...args) {
  return args.length ? `${code} ${args.map(enquote).join(",")}` : code;
}

/** Split a received line at its first space: lowercase code and dequoted arguments. */
export function splitLine(line) {
  const space = line.indexOf(" ");
  if (space < 0) return { code: line.toLowerCase(), args: [] };
  return {
    code: line.slice(0, space).toLowerCase(),
    args: line.slice(space + 1).split(",").map(dequote),
  };
}

/** A number for `mov`: plain decimal text, never exponent notation. */
export function formatNumber(value) {
  return (Math.round(value * 100) / 100).toFixed(2);
}
