// The usual order: the response first, then waitUntil (here after an await of a settled
// promise): the pending count must still reach the platform before the response does.
const getContext = () => globalThis[Symbol.for("@vercel/request-context")]?.get?.() ?? {};

module.exports = async function handler(req, res) {
  res.status(202).json({ accepted: true });
  await Promise.resolve();
  getContext().waitUntil(new Promise((resolve) => setTimeout(resolve, 200)));
};
