// GET /api/orders: the latest orders. POST /api/orders: place one, answer, then send its
// confirmation email with waitUntil (from @vercel/functions) keeping the function alive.
//
// waitUntil works where the platform provides Vercel's request context: on Vercel, and under
// pgstampede's function host (scenario-functions.toml). Under `next start` nothing provides it,
// so waitUntil does nothing: the email still starts, but a serverless platform freezes it with
// the instance as soon as the response is out (scenario.toml measures how much is lost).
import { waitUntil } from "@vercel/functions";
import { sendConfirmationEmail, sql } from "../../../lib/db.js";

export const dynamic = "force-dynamic";

export async function GET() {
  const rows = await sql`SELECT id, customer, sku, quantity FROM orders ORDER BY id DESC LIMIT 10`;
  return Response.json(rows);
}

export async function POST(request) {
  const order = await request.json().catch(() => null);
  const { customer, sku, quantity } = order ?? {};
  if (typeof customer !== "string" || typeof sku !== "string" || !Number.isInteger(quantity)) {
    return Response.json({ error: "expected {customer, sku, quantity}" }, { status: 400 });
  }
  const [{ id }] = await sql`
    INSERT INTO orders (customer, sku, quantity) VALUES (${customer}, ${sku}, ${quantity})
    RETURNING id`;
  waitUntil(sendConfirmationEmail(id, customer).catch((error) => {
    console.error(`order ${id}: confirmation email failed: ${error.message}`);
  }));
  return Response.json({ id }, { status: 201 });
}
