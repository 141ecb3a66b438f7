// An exception as the platform is told of it: its type, its message, and where the app raised it
// (the deepest stack frame in a file under the app's root that is neither in node_modules nor
// one of this host's files; "" when no frame is the app's).

import { fileURLToPath } from "node:url";
import path from "node:path";

// "    at fn (/abs/file.js:12:5)", "    at /abs/file.js:12:5", "    at async fn (file:///abs/x.mjs:3:9)"
const FRAME = /\(?((?:file:\/\/)?\/[^()]*?):(\d+):(\d+)\)?\s*$/;
const HOST_DIR = path.dirname(fileURLToPath(import.meta.url));

/** A 4xx answer raised by the host's own helpers (req.body of invalid JSON): not the app's fault. */
export class ApiError extends Error {
  constructor(statusCode, message) {
    super(message);
    this.statusCode = statusCode;
  }
}

/** The exception's type name: a subclass's own name (pg's DatabaseError sets name = "error"). */
export function typeName(error) {
  if (error === null || typeof error !== "object") return typeof error;
  const ctor = error.constructor && error.constructor.name;
  if (ctor && ctor !== "Error" && ctor !== "Object") return ctor;
  return typeof error.name === "string" && error.name ? error.name : "Error";
}

/** "file:line" relative to root, of the deepest frame of the app's own code; "" if none. */
export function appFrame(error, root) {
  const stack = error !== null && typeof error === "object" ? error.stack : undefined;
  if (typeof stack !== "string") return "";
  for (const line of stack.split("\n")) {
    if (!line.trimStart().startsWith("at ")) continue;
    const match = FRAME.exec(line);
    if (!match) continue;
    let file = match[1];
    if (file.startsWith("file://")) {
      try {
        file = fileURLToPath(file);
      } catch {
        continue;
      }
    }
    const relative = path.relative(root, file);
    if (relative.startsWith("..") || path.isAbsolute(relative)) continue;
    if (file.split(path.sep).includes("node_modules")) continue;
    if (path.dirname(file) === HOST_DIR) continue;
    return `${relative}:${match[2]}`;
  }
  return "";
}

/** The control channel's exception report. */
export function report(error, root) {
  const message = error !== null && typeof error === "object" && "message" in error
    ? String(error.message)
    : String(error);
  return { type: typeName(error), message, where: appFrame(error, root) };
}

/** One line for the instance's log: "TypeError: boom (api/orders.js:12)". */
export function oneLine(error, root) {
  const { type, message, where } = report(error, root);
  return `${type}: ${message}${where ? ` (${where})` : ""}`;
}
