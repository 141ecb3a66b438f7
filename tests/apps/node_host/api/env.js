// What the function sees of Vercel's environment variables and its working directory.
module.exports = (req, res) => {
  const names = ["VERCEL", "VERCEL_ENV", "VERCEL_REGION", "VERCEL_URL"];
  res.json({ env: Object.fromEntries(names.map((n) => [n, process.env[n] ?? null])), cwd: process.cwd() });
};
