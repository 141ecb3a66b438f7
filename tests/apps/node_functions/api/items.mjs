// GET /api/items: a Next.js-style route handler reading one row.
import db from "../lib/db.js";

export async function GET(request) {
  const id = 1 + Math.floor(Math.random() * 100);
  const { rows } = await db.pool.query("SELECT id, name FROM items WHERE id = $1", [id]);
  return Response.json(rows[0]);
}
