// A file that starts its own server, as `app.listen(3000)` does: the host takes its requests.
const http = require("http");

const server = http.createServer((req, res) => {
  res.setHeader("content-type", "text/plain");
  res.end(`own server saw ${req.method} ${req.url}`);
});
server.listen(3000);
