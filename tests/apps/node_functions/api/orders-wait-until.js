// The same order, with the email kept alive by waitUntil from @vercel/functions.
const { waitUntil } = require("@vercel/functions");
const { placeOrder, sendEmail } = require("../lib/db");

module.exports = async function handler(req, res) {
  const id = await placeOrder(req.body?.customer);
  res.status(201).json({ id });
  waitUntil(sendEmail(id));
};
