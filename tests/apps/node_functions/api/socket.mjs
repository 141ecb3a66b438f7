// A WebSocket echo with upgradeWebSocket from @vercel/functions (it needs the `ws` package).
import { upgradeWebSocket } from "@vercel/functions";

export async function GET(request) {
  if (request.headers.get("upgrade") !== "websocket") {
    return new Response("expected a WebSocket upgrade", { status: 426 });
  }
  return upgradeWebSocket((ws) => {
    ws.on("message", (data) => ws.send(`echo: ${data}`));
  });
}
