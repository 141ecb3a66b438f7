// An app function with a listen() method (Express, Connect): no Vercel helpers (it has its own).
function app(req, res) {
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ hasQueryHelper: "query" in req, hasJsonHelper: typeof res.json === "function" }));
}
app.listen = () => {
  throw new Error("not called by the host");
};
module.exports = app;
