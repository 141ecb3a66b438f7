// The same Express app as one Vercel function (Vercel's documented way to deploy Express): the
// app is the handler. pgstampede runs it with `[app] node` (scenario-functions.toml).
module.exports = require("../app").app;
