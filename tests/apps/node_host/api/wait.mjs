// Work kept alive after the response with waitUntil, read from the request context exactly as
// @vercel/functions reads it (getContext().waitUntil?.(promise)).
const getContext = () => globalThis[Symbol.for("@vercel/request-context")]?.get?.() ?? {};

export default function handler(req, res) {
  const ms = Number(req.query.ms ?? 300);
  getContext().waitUntil?.(new Promise((resolve) => setTimeout(resolve, ms)));
  res.json({ headers: getContext().headers?.["x-probe"] ?? null });
}
