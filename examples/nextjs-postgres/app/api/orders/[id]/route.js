// GET /api/orders/:id: one order.
import { sql } from "../../../../lib/db.js";

export const dynamic = "force-dynamic";

export async function GET(request, { params }) {
  const { id } = await params;
  const rows = await sql`SELECT id, customer, sku, quantity FROM orders WHERE id = ${Number(id) || 0}`;
  if (rows.length === 0) return Response.json({ error: "no such order" }, { status: 404 });
  return Response.json(rows[0]);
}
