// Vercel's request context, as the unmodified npm package @vercel/functions reads it:
// globalThis[Symbol.for("@vercel/request-context")].get() returns an object with
//
//   waitUntil(promise)   keep the instance running until the promise settles: the platform is
//                        told the count of such promises ({"pending": N} on the control channel)
//                        and does not freeze the instance while it is above 0
//   headers              the request's headers (lower-case names)
//   upgradeWebSocket()   on an HTTP upgrade request only, where WebSockets are allowed: hands
//                        over {req, socket, head} (the package's upgradeWebSocket completes the
//                        handshake with the `ws` package)
//
// Outside a request (module scope, a timer), get() returns the instance's own context, whose
// waitUntil counts the same way, as `vercel dev` does. A rejected waitUntil promise is logged
// and reported as an exception; it never crashes the instance.

import { AsyncLocalStorage } from "node:async_hooks";
import { oneLine, report } from "./errors.mjs";

export const REQUEST_CONTEXT = Symbol.for("@vercel/request-context");

export class RequestContexts {
  /**
   * @param {import("./control.mjs").Control} control
   * @param {string} root the app's root (for the exceptions' "where")
   */
  constructor(control, root) {
    this.control = control;
    this.root = root;
    this.storage = new AsyncLocalStorage();
    this.instance = { waitUntil: (promise) => this.waitUntil(promise), headers: {} };
    this.settled = new Set();
  }

  /** Put the context where @vercel/functions looks for it. */
  install() {
    Object.defineProperty(globalThis, REQUEST_CONTEXT, {
      configurable: true,
      enumerable: false,
      value: { get: () => this.storage.getStore() ?? this.instance },
    });
  }

  /** The context of one request; upgrade is given on an upgrade request where allowed. */
  forRequest(req, upgrade) {
    const context = { waitUntil: (promise) => this.waitUntil(promise), headers: req.headers };
    if (upgrade) context.upgradeWebSocket = upgrade;
    return context;
  }

  run(context, fn) {
    return this.storage.run(context, fn);
  }

  waitUntil(promise) {
    this.control.add(1);
    Promise.resolve(promise)
      .catch((error) => this.failed(error))
      .finally(() => {
        this.control.add(-1);
        if (this.control.pending === 0) for (const resolve of this.settled) resolve();
      });
  }

  /** Resolves once no waitUntil promise is pending (at once if none is). */
  idle() {
    if (this.control.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.settled.delete(done);
        resolve();
      };
      this.settled.add(done);
    });
  }

  failed(error) {
    process.stderr.write(`waitUntil: ${oneLine(error, this.root)}\n${error?.stack ?? ""}\n`);
    this.control.exception(report(error, this.root));
  }
}
