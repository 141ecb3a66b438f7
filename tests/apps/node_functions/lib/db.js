// One node-postgres Pool per process, at module scope, as function files usually have it.
const { Pool } = require("pg");

const pool = new Pool({
  connectionString: process.env.DATABASE_URL,
  max: Number(process.env.DB_POOL_MAX ?? 10),
  idleTimeoutMillis: Number(process.env.DB_IDLE_TIMEOUT_MS ?? 10000),
});

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The order's confirmation email, "sent" EMAIL_DELAY_MS after the order (default 300 ms). */
async function sendEmail(orderId) {
  await sleep(Number(process.env.EMAIL_DELAY_MS ?? 300));
  await pool.query("INSERT INTO emails (order_id) VALUES ($1)", [orderId]);
}

async function placeOrder(customer) {
  const { rows } = await pool.query(
    "INSERT INTO orders (customer) VALUES ($1) RETURNING id", [customer ?? "ann"]);
  return rows[0].id;
}

module.exports = { pool, sendEmail, placeOrder };
