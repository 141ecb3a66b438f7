// Load one function file (CommonJS or ESM, by Node's own rules: .cjs/.mjs, or the nearest
// package.json's "type") and find how it serves requests, in @vercel/node's order:
//
//   1. `default` unwrapped (up to 5 levels, as a transpiled `exports.default` nests it);
//   2. web handlers: an exported GET/HEAD/OPTIONS/POST/PUT/DELETE/PATCH function (Next.js-style
//      route handlers), or `fetch` (`export default { fetch }`, which serves every method);
//   3. a function: the Vercel Node signature handler(req, res), with Vercel's helpers unless it
//      has a `listen` method (an Express or Connect app brings its own);
//   4. otherwise a server the module started itself (`app.listen(3000)`): its listen() is
//      intercepted while the file loads (and for up to 1 s after), and requests are handed to it.

import http from "node:http";
import { pathToFileURL } from "node:url";
import { addHelpers } from "./node_api.mjs";
import { isResponse, toRequest, writeResponse } from "./web.mjs";

export const HTTP_METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE", "PATCH"];
const SERVER_WAIT_MS = 1000;

/** @param {string} file an absolute path */
export async function loadHandler(file) {
  const capture = captureListen();
  let listener;
  try {
    listener = await import(pathToFileURL(file).href);
    for (let i = 0; i < 5 && listener && listener.default; i++) listener = listener.default;
    if (listener && typeof listener.fetch === "function") {
      return webHandler(file, Object.fromEntries(HTTP_METHODS.map((m) => [m, listener.fetch])));
    }
    if (listener && HTTP_METHODS.some((m) => typeof listener[m] === "function")) {
      return webHandler(file, listener);
    }
    if (typeof listener === "function") return nodeHandler(listener);
    const server = await capture.server(SERVER_WAIT_MS);
    if (server) return serverHandler(server);
  } finally {
    capture.restore();
  }
  throw new TypeError(
    `${file}: no handler found: export default function handler(req, res), ` +
    "export default { fetch(request) }, export async function GET(request) (or POST, ...), " +
    "or a server started with listen()",
  );
}

function captureListen() {
  const proto = http.Server.prototype;
  const own = Object.getOwnPropertyDescriptor(proto, "listen");
  let found = null;
  let notify = () => {};
  proto.listen = function listen() {
    found = this;
    notify();
    return this;
  };
  return {
    server(waitMs) {
      if (found) return Promise.resolve(found);
      return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(found), waitMs);
        notify = () => {
          clearTimeout(timer);
          resolve(found);
        };
      });
    },
    restore() {
      if (own) Object.defineProperty(proto, "listen", own);
      else delete proto.listen;
    },
  };
}

function nodeHandler(fn) {
  const helpers = typeof fn.listen !== "function";
  return {
    kind: "node",
    async serve(req, res, params) {
      if (helpers) await addHelpers(req, res, params);
      await fn(req, res);
    },
  };
}

function serverHandler(server) {
  return {
    kind: "server",
    server,
    async serve(req, res) {
      server.emit("request", req, res);
    },
  };
}

function webHandler(file, exports) {
  const methods = {};
  for (const m of HTTP_METHODS) if (typeof exports[m] === "function") methods[m] = exports[m];
  if (!methods.HEAD && methods.GET) methods.HEAD = methods.GET;
  const allow = Object.keys(methods).join(", ");
  return {
    kind: "web",
    async serve(req, res, params, exchange, waitUntil) {
      const fn = methods[req.method ?? "GET"];
      if (!fn) {
        res.writeHead(405, { Allow: allow }).end();
        return;
      }
      const request = await toRequest(req);
      const context = { params: Object.assign(Promise.resolve(params), params), waitUntil };
      const response = await fn.call(exports, request, context);
      if (exchange.upgraded) return; // the WebSocket took the connection over
      if (!isResponse(response)) {
        throw new TypeError(`${file}: ${req.method} returned ${describe(response)}, not a Response`);
      }
      await writeResponse(res, response, req.method);
    },
  };
}

function describe(value) {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return value.constructor ? `a ${value.constructor.name}` : "an object";
}
