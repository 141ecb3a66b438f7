// pgstampede's Node host for Vercel-style function files: no dependency but Node (>= 18).
//
//   node host.mjs --route /api/orders=api/orders.js [--route PATTERN=FILE ...]
//                 [--root DIR] [--port N] [--host ADDRESS] [--function] [--no-websockets]
//
// Loads every route's file (its module scope is the instance's init), then serves HTTP on
// --port (default: $PORT, else 3000) at --host (default 127.0.0.1), and prints one line once it
// listens. Files are relative to --root (default: the working directory), which becomes the
// working directory, as /var/task is on Vercel.
//
//   --function       run as one serverless function instance: VERCEL=1, VERCEL_ENV=production,
//                    VERCEL_REGION=dev1 and VERCEL_URL=<host>:<port> are set where unset (so
//                    @vercel/functions' attachDatabasePool acts), before any file loads
//   --no-websockets  no upgradeWebSocket in the request context (a platform without them)
//
// The platform may pass PGSTAMPEDE_CONTROL_FD (control.mjs): pending waitUntil work and
// unhandled exceptions are reported there. A handler that throws (or rejects) answers 500 and
// is reported; an exception outside any handler is reported, then Node's own behaviour follows
// (the process exits). A file that fails to load ends the process (exit 1) with a last line
// naming the file and the app's error. SIGTERM/SIGINT: stop accepting, wait (up to 5 s) for
// requests in flight and waitUntil work, exit 0.

import http from "node:http";
import path from "node:path";
import { Control } from "./control.mjs";
import { RequestContexts } from "./context.mjs";
import { ApiError, oneLine, report } from "./errors.mjs";
import { loadHandler } from "./loader.mjs";
import { Routes } from "./routes.mjs";

const STOP_WAIT_MS = 5000;

function parseArgs(argv, env) {
  const options = { root: process.cwd(), routes: [], port: env.PORT || "3000", host: "127.0.0.1",
    function: false, websockets: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === "--root") options.root = value();
    else if (arg === "--port") options.port = value();
    else if (arg === "--host") options.host = value();
    else if (arg === "--function") options.function = true;
    else if (arg === "--no-websockets") options.websockets = false;
    else if (arg === "--route") {
      const spec = value();
      const eq = spec.indexOf("=");
      if (eq <= 0 || !spec.startsWith("/") || eq === spec.length - 1) {
        throw new Error(`--route ${spec}: expected /path=file`);
      }
      options.routes.push({ pattern: spec.slice(0, eq), file: spec.slice(eq + 1) });
    } else throw new Error(`unknown argument ${arg}`);
  }
  if (!options.routes.length) throw new Error("no --route given");
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`port: expected a number from 0 to 65535, got ${JSON.stringify(options.port)}`);
  }
  options.port = port;
  options.root = path.resolve(options.root);
  return options;
}

function functionEnvironment(env, options) {
  const defaults = { VERCEL: "1", VERCEL_ENV: "production", VERCEL_REGION: "dev1",
    VERCEL_URL: `${options.host}:${options.port}` };
  for (const [name, value] of Object.entries(defaults)) if (!env[name]) env[name] = value;
}

async function loadRoutes(options, control) {
  const routes = new Routes();
  for (const { pattern, file } of options.routes) {
    let handler;
    try {
      handler = await loadHandler(path.resolve(options.root, file));
    } catch (error) {
      process.stderr.write(`${error?.stack ?? error}\n`);
      control.exception(report(error, options.root));
      process.stderr.write(`pgstampede node host: ${file} failed to load: ${oneLine(error, options.root)}\n`);
      process.exit(1);
    }
    routes.add(pattern, handler);
  }
  return routes;
}

class Host {
  constructor(options, routes, contexts, control) {
    this.options = options;
    this.routes = routes;
    this.contexts = contexts;
    this.control = control;
    this.inFlight = 0;
    this.server = http.createServer({ requestTimeout: 0 });
    // A frozen instance's timers fire at its thaw: no keep-alive timeout may close the
    // platform's idle connections then.
    this.server.keepAliveTimeout = 0;
    this.server.on("request", (req, res) => this.request(req, res));
    this.server.on("upgrade", (req, socket, head) => this.upgrade(req, socket, head));
  }

  request(req, res) {
    const match = this.routes.match(pathOf(req.url));
    if (!match) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not Found\n");
      return;
    }
    this.serve(match, req, res, this.contexts.forRequest(req, undefined), { upgraded: false });
  }

  upgrade(req, socket, head) {
    const match = this.routes.match(pathOf(req.url));
    if (match && match.handler.kind === "server") {
      if (match.handler.server.listenerCount("upgrade") > 0) {
        match.handler.server.emit("upgrade", req, socket, head);
        return;
      }
    }
    const res = new http.ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on("finish", () => {
      res.detachSocket(socket);
      socket.destroySoon();
    });
    if (!match) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("Not Found\n");
      return;
    }
    const exchange = { upgraded: false };
    const upgradeWebSocket = this.options.websockets
      ? () => {
          exchange.upgraded = true;
          return { req, socket, head };
        }
      : undefined;
    this.serve(match, req, res, this.contexts.forRequest(req, upgradeWebSocket), exchange);
  }

  serve(match, req, res, context, exchange) {
    this.inFlight += 1;
    this.holdTheEnd(res);
    res.on("close", () => {
      this.inFlight -= 1;
    });
    this.contexts.run(context, async () => {
      try {
        await match.handler.serve(req, res, match.params, exchange, context.waitUntil);
      } catch (error) {
        this.failed(error, res, exchange);
      }
    });
  }

  /**
   * A response's end counts as pending work from res.end() until one event-loop turn after
   * the response finished: the handler's code after res.end() (and its microtasks) runs in
   * that window, so `res.json(x); waitUntil(p)` has raised the count before it can fall to 0,
   * and the platform, told {"pending": 1} before the response's bytes left, never freezes the
   * instance between the response and the waitUntil call (Vercel counts such calls too).
   */
  holdTheEnd(res) {
    const control = this.control;
    const end = res.end;
    let held = false;
    const release = () => setImmediate(() => control.add(-1));
    res.end = function endHeld(...args) {
      if (!held) {
        held = true;
        control.add(1);
        res.once("close", release);
      }
      return end.apply(this, args);
    };
  }

  failed(error, res, exchange) {
    if (error instanceof ApiError) {
      if (!res.headersSent) {
        res.writeHead(error.statusCode, { "content-type": "text/plain; charset=utf-8" });
        res.end(`${error.message}\n`);
      }
      return;
    }
    process.stderr.write(`${error?.stack ?? error}\n`);
    this.control.exception(report(error, this.options.root));
    if (exchange.upgraded) return;
    if (!res.headersSent) {
      res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      res.end("A server error has occurred\n\nFUNCTION_INVOCATION_FAILED\n");
    } else if (!res.writableEnded) res.destroy();
  }

  listen() {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off("error", reject);
        resolve(this.server.address());
      });
    });
  }

  async stop() {
    this.server.close();
    const deadline = Date.now() + STOP_WAIT_MS;
    const settled = this.contexts.idle();
    while (this.inFlight > 0 && Date.now() < deadline) await sleep(20);
    await Promise.race([settled, sleep(Math.max(0, deadline - Date.now()))]);
    process.exit(0);
  }
}

function pathOf(url) {
  const q = (url ?? "/").indexOf("?");
  return q < 0 ? url ?? "/" : url.slice(0, q);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2), process.env);
  } catch (error) {
    process.stderr.write(`pgstampede node host: ${error.message}\n`);
    process.exit(2);
  }
  const control = Control.fromEnv(process.env);
  const contexts = new RequestContexts(control, options.root);
  process.on("uncaughtExceptionMonitor", (error) => control.exception(report(error, options.root)));
  process.chdir(options.root);
  if (options.function) functionEnvironment(process.env, options);
  contexts.install();
  const routes = await loadRoutes(options, control);
  const host = new Host(options, routes, contexts, control);
  const address = await host.listen();
  for (const signal of ["SIGTERM", "SIGINT"]) process.once(signal, () => host.stop());
  const names = options.routes.map((r) => r.pattern).join(", ");
  process.stdout.write(`pgstampede node host: serving ${names} on http://${address.address}:${address.port}\n`);
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\npgstampede node host: ${error?.message ?? error}\n`);
  process.exit(1);
});
