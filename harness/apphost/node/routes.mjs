// The route table: "/api/orders" -> its handler. A route may have dynamic segments as in Vercel's
// and Next.js's file names: "/api/orders/[id]", a catch-all "/api/[...slug]" (one or more
// segments) and an optional one "/api/[[...slug]]" (zero or more). A static route wins over a
// dynamic one; a trailing slash is ignored.

export class Routes {
  constructor() {
    this.entries = [];
  }

  /** @param {string} pattern @param {any} handler */
  add(pattern, handler) {
    const segments = split(pattern).map(segment);
    this.entries.push({ pattern, segments, handler, rank: rank(segments) });
    this.entries.sort((a, b) => a.rank - b.rank);
  }

  /** {handler, params, pattern} of the route serving this path, or null. */
  match(pathname) {
    const parts = split(pathname);
    for (const entry of this.entries) {
      const params = matchSegments(entry.segments, parts);
      if (params) return { handler: entry.handler, params, pattern: entry.pattern };
    }
    return null;
  }
}

function split(path) {
  return path.split("/").filter((part) => part !== "");
}

function segment(text) {
  let m = /^\[\[\.\.\.([^\]]+)\]\]$/.exec(text);
  if (m) return { kind: "optional-rest", name: m[1] };
  m = /^\[\.\.\.([^\]]+)\]$/.exec(text);
  if (m) return { kind: "rest", name: m[1] };
  m = /^\[([^\]]+)\]$/.exec(text);
  if (m) return { kind: "param", name: m[1] };
  return { kind: "static", text };
}

function rank(segments) {
  let score = 0;
  for (const s of segments) score += { static: 0, param: 1, rest: 100, "optional-rest": 1000 }[s.kind];
  return score;
}

function matchSegments(segments, parts) {
  const params = {};
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s.kind === "rest" || s.kind === "optional-rest") {
      const rest = parts.slice(i).map(decode);
      if (rest.length === 0 && s.kind === "rest") return null;
      if (rest.length) params[s.name] = rest;
      return params;
    }
    if (i >= parts.length) return null;
    if (s.kind === "static" && s.text !== parts[i]) return null;
    if (s.kind === "param") params[s.name] = decode(parts[i]);
  }
  return segments.length === parts.length ? params : null;
}

function decode(part) {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
