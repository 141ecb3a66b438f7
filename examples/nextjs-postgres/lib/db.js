// One postgres.js client per process, at module scope (the usual Next.js setup). postgres.js
// opens up to `max` connections (10 by default) and, unless `idle_timeout` is set, never closes
// an idle one: a frozen serverless instance keeps them all.
import postgres from "postgres";

export const sql = postgres(process.env.DATABASE_URL, {
  max: Number(process.env.DB_POOL_MAX || 10),
  idle_timeout: Number(process.env.DB_IDLE_TIMEOUT_S || 0), // seconds; 0 = never
  // postgres.js prepares every query on the server. Behind PgBouncer in transaction mode
  // (before 1.21) the next query may run on another server connection that has no such
  // statement: turn preparing off there.
  prepare: !process.env.DB_BEHIND_PGBOUNCER,
});

const EMAIL_DELAY_MS = Number(process.env.EMAIL_DELAY_MS || 200);

/** The order's confirmation email: the mail provider's call, then a row in `emails`. */
export async function sendConfirmationEmail(orderId, customer) {
  await new Promise((resolve) => setTimeout(resolve, EMAIL_DELAY_MS));
  await sql`INSERT INTO emails (order_id, recipient) VALUES (${orderId}, ${customer})`;
}
