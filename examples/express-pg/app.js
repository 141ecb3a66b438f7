// The orders service: Express 5 and node-postgres, written the usual way.
const express = require("express");
const { Pool } = require("pg");

// One pool per process, at module scope: made when the process starts, shared by every
// request. node-postgres opens its connections lazily, up to `max` (10 by default), and closes
// one after it has been idle for `idleTimeoutMillis` (10 s by default; a timer, which does not
// run while a serverless platform has the process frozen).
const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_MAX || 10),
});

const EMAIL_DELAY_MS = Number(process.env.EMAIL_DELAY_MS || 200);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The order's confirmation email: a call to the mail provider (EMAIL_DELAY_MS), then a row in
// `emails` saying it was sent.
async function sendConfirmationEmail(orderId, customer) {
  await sleep(EMAIL_DELAY_MS);
  await pool.query("INSERT INTO emails (order_id, recipient) VALUES ($1, $2)", [orderId, customer]);
}

const app = express();
app.use(express.json());

app.get("/health", (req, res) => {
  res.json({ ok: true });
});

app.get("/orders", async (req, res) => {
  const { rows } = await pool.query(
    "SELECT id, customer, sku, quantity FROM orders ORDER BY id DESC LIMIT 10");
  res.json(rows);
});

app.get("/orders/:id", async (req, res) => {
  const { rows } = await pool.query(
    "SELECT id, customer, sku, quantity FROM orders WHERE id = $1", [Number(req.params.id) || 0]);
  if (rows.length === 0) return res.status(404).json({ error: "no such order" });
  res.json(rows[0]);
});

app.post("/orders", async (req, res) => {
  const { customer, sku, quantity } = req.body ?? {};
  if (typeof customer !== "string" || typeof sku !== "string" || !Number.isInteger(quantity)) {
    return res.status(400).json({ error: "expected {customer, sku, quantity}" });
  }
  const { rows } = await pool.query(
    "INSERT INTO orders (customer, sku, quantity) VALUES ($1, $2, $3) RETURNING id",
    [customer, sku, quantity]);
  res.status(201).json({ id: rows[0].id });

  // After the response, as so many apps do: the client has its answer, the email follows.
  // On a server this always runs. On a serverless platform the instance is frozen as soon as
  // the response is out: the email waits for the instance's next request, and is lost if the
  // instance is reaped first. (On Vercel, waitUntil() from @vercel/functions keeps it alive.)
  try {
    await sendConfirmationEmail(rows[0].id, customer);
  } catch (error) {
    console.error(`order ${rows[0].id}: confirmation email failed: ${error.message}`);
  }
});

// Express 5 hands a rejected promise to the error handler: a refused connection (PostgreSQL's
// "too many clients", SQLSTATE 53300) is a 503, any other error a 500.
app.use((error, req, res, next) => {
  if (res.headersSent) return next(error);
  const refused = error.code === "53300" || /too many clients/.test(error.message);
  console.error(`${req.method} ${req.path}: ${error.message}`);
  res.status(refused ? 503 : 500).json({ error: error.message, code: error.code ?? null });
});

module.exports = { app, pool };
