// POST /api/orders: the order, the response, then the email with nothing keeping the instance
// awake: on a serverless platform it is frozen with the instance, and lost if that is reaped.
const { placeOrder, sendEmail } = require("../lib/db");

module.exports = async function handler(req, res) {
  const id = await placeOrder(req.body?.customer);
  res.status(201).json({ id });
  sendEmail(id).catch((error) => console.error("email failed:", error.message));
};
