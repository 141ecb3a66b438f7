// Serve the app on $PORT (default 3000) at $HOST (default 127.0.0.1). WEB_CONCURRENCY=N runs N
// worker processes with Node's cluster module, each with its own pool.
const cluster = require("node:cluster");

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || "127.0.0.1";
const workers = Number(process.env.WEB_CONCURRENCY || 1);

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on("exit", (worker, code) => {
    console.error(`worker ${worker.process.pid} exited (${code})`);
    process.exitCode = 1;
  });
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => {
      for (const worker of Object.values(cluster.workers)) worker.process.kill(signal);
    });
  }
} else {
  const { app, pool } = require("./app");
  const server = app.listen(port, host, () => {
    console.log(`express-pg listening on http://${host}:${port} (pid ${process.pid})`);
  });
  for (const signal of ["SIGTERM", "SIGINT"]) {
    process.once(signal, () => {
      server.close(() => pool.end().then(() => process.exit(0)));
      server.closeIdleConnections?.();
    });
  }
}
