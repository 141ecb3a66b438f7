// No database needed: a pg Pool attached with attachDatabasePool, whose 'release' event (what
// a client's release() emits) the handler fires itself.
import { attachDatabasePool } from "@vercel/functions";
import pg from "pg";

const pool = new pg.Pool({ idleTimeoutMillis: Number(process.env.DB_IDLE_TIMEOUT_MS ?? 200) });
attachDatabasePool(pool);

export async function GET() {
  pool.emit("release", undefined, {});
  return Response.json({ released: true });
}
