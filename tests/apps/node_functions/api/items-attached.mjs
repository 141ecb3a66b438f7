// The same read, with the pool attached: @vercel/functions keeps the instance awake (waitUntil)
// until the pool's idle timeout has closed its idle clients, before the platform freezes it.
import { attachDatabasePool } from "@vercel/functions";
import db from "../lib/db.js";

attachDatabasePool(db.pool);

export async function GET(request) {
  const id = 1 + Math.floor(Math.random() * 100);
  const { rows } = await db.pool.query("SELECT id, name FROM items WHERE id = $1", [id]);
  return Response.json(rows[0]);
}
