// A handler whose own code throws after an await: 500, and the platform is told where.
function chargeCard() {
  throw new RangeError("card declined");
}

module.exports = async function handler(req, res) {
  await null;
  chargeCard();
  res.end("never");
};
