// The Vercel Node signature, CommonJS: echoes what Vercel's helpers parsed.
module.exports = (req, res) => {
  res.status(201).json({
    method: req.method,
    query: req.query,
    body: Buffer.isBuffer(req.body) ? { buffer: req.body.toString() } : req.body ?? null,
    cookies: req.cookies,
  });
};
