// The Vercel Node signature, ESM (.mjs), async; res.send of a string.
export default async function handler(req, res) {
  await new Promise((resolve) => setTimeout(resolve, 1));
  res.send(`hello ${req.query.name ?? "world"}`);
}
