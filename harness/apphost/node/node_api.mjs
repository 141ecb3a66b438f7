// The Vercel Node signature's helpers, as @vercel/node adds them before calling
// `export default function handler(req, res)`:
//
//   req.query    the query string as an object (a repeated key gives an array), plus the route's
//                dynamic segments ([id] in the route)
//   req.cookies  the Cookie header as an object
//   req.body     by Content-Type: application/json -> parsed (an empty body -> {}; invalid ->
//                400 "Invalid JSON"), application/x-www-form-urlencoded -> object, text/plain or
//                no Content-Type -> string, application/octet-stream -> Buffer, else undefined.
//                The body is read before the handler runs, and replayed to 'data'/'end'
//                listeners, so code reading the stream itself still gets it.
//   res.status(code), res.send(body), res.json(value), res.redirect([status,] url)
//
// Lazy: each of query, cookies and body is computed when first read, and may be assigned.

import { createHash } from "node:crypto";
import { parse as parseQS } from "node:querystring";
import { PassThrough } from "node:stream";
import { ApiError } from "./errors.mjs";

export async function addHelpers(req, res, params) {
  setLazyProp(req, "cookies", () => parseCookies(req.headers.cookie));
  setLazyProp(req, "query", () => ({ ...parseQuery(req.url), ...params }));
  const contentType = req.headers["content-type"];
  const body = contentType === undefined ? Buffer.alloc(0) : await readBody(req);
  setLazyProp(req, "body", () => parseBody(body, contentType));
  res.status = (code) => {
    res.statusCode = code;
    return res;
  };
  res.redirect = (statusOrUrl, url) => redirect(res, statusOrUrl, url);
  res.send = (value) => send(req, res, value);
  res.json = (value) => json(req, res, value);
}

export function mediaType(contentType) {
  if (!contentType) return "text/plain";
  return contentType.split(";")[0].trim().toLowerCase();
}

export function parseBody(body, contentType) {
  const type = mediaType(contentType);
  if (type === "application/json") {
    const text = body.toString();
    try {
      return text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError(400, "Invalid JSON");
    }
  }
  if (type === "application/octet-stream") return body;
  if (type === "application/x-www-form-urlencoded") return { ...parseQS(body.toString()) };
  if (type === "text/plain") return body.toString();
  return undefined;
}

export function parseQuery(url = "/") {
  const query = {};
  new URL(url, "http://localhost").searchParams.forEach((value, key) => {
    const existing = query[key];
    if (existing === undefined) query[key] = value;
    else query[key] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  });
  return query;
}

export function parseCookies(header) {
  const cookies = {};
  if (!header) return cookies;
  for (const pair of (Array.isArray(header) ? header.join(";") : header).split(";")) {
    const eq = pair.indexOf("=");
    if (eq < 0) continue;
    const name = pair.slice(0, eq).trim();
    if (!name || name in cookies) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length > 1) value = value.slice(1, -1);
    try {
      cookies[name] = value.includes("%") ? decodeURIComponent(value) : value;
    } catch {
      cookies[name] = value;
    }
  }
  return cookies;
}

function setLazyProp(req, prop, getter) {
  const opts = { configurable: true, enumerable: true };
  Object.defineProperty(req, prop, {
    ...opts,
    get: () => {
      const value = getter();
      Object.defineProperty(req, prop, { ...opts, writable: true, value });
      return value;
    },
    set: (value) => {
      Object.defineProperty(req, prop, { ...opts, writable: true, value });
    },
  });
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = Buffer.concat(chunks);
  // Replay the body to listeners the app adds itself (as @vercel/node does).
  const replay = new PassThrough();
  const on = replay.on.bind(replay);
  const originalOn = req.on.bind(req);
  req.read = replay.read.bind(replay);
  req.on = req.addListener = (name, cb) =>
    name === "data" || name === "end" ? on(name, cb) : originalOn(name, cb);
  replay.end(body);
  return body;
}

function redirect(res, statusOrUrl, url) {
  if (typeof statusOrUrl === "string") {
    url = statusOrUrl;
    statusOrUrl = 307;
  }
  if (typeof statusOrUrl !== "number" || typeof url !== "string") {
    throw new Error("Invalid redirect arguments: res.redirect('/destination') or res.redirect(307, '/destination')");
  }
  res.writeHead(statusOrUrl, { Location: url }).end();
  return res;
}

function json(req, res, value) {
  if (!res.getHeader("content-type")) res.setHeader("content-type", "application/json; charset=utf-8");
  return send(req, res, JSON.stringify(value));
}

function withCharset(type) {
  const parts = type.split(";").map((p) => p.trim()).filter((p) => p && !/^charset=/i.test(p));
  return [...parts, "charset=utf-8"].join("; ");
}

/** A weak ETag as the `etag` package computes it: W/"<length hex>-<sha1 base64, 27 chars>". */
function weakETag(chunk) {
  const hash = createHash("sha1").update(chunk).digest("base64").substring(0, 27);
  return `W/"${chunk.length.toString(16)}-${hash}"`;
}

function send(req, res, body) {
  let chunk = body;
  if (typeof chunk === "string") {
    if (!res.getHeader("content-type")) res.setHeader("content-type", "text/html");
  } else if (typeof chunk === "boolean" || typeof chunk === "number" || typeof chunk === "object") {
    if (chunk === null) chunk = "";
    else if (Buffer.isBuffer(chunk)) {
      if (!res.getHeader("content-type")) res.setHeader("content-type", "application/octet-stream");
    } else return json(req, res, chunk);
  }
  if (typeof chunk === "string") {
    const type = res.getHeader("content-type");
    if (typeof type === "string") res.setHeader("content-type", withCharset(type));
    chunk = Buffer.from(chunk, "utf8");
  }
  if (chunk !== undefined) {
    if (!Buffer.isBuffer(chunk)) {
      throw new Error("`body` is not a valid string, object, boolean, number, Stream, or Buffer");
    }
    res.setHeader("content-length", chunk.length);
    if (!res.getHeader("etag")) res.setHeader("etag", weakETag(chunk));
  }
  if (res.statusCode === 204 || res.statusCode === 304) {
    res.removeHeader("Content-Type");
    res.removeHeader("Content-Length");
    res.removeHeader("Transfer-Encoding");
    chunk = undefined;
  }
  if (req.method === "HEAD" || chunk === undefined) res.end();
  else res.end(chunk);
  return res;
}
