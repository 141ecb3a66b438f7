// waitUntil from the unmodified @vercel/functions, no database.
import { waitUntil } from "@vercel/functions";

export default {
  fetch(request) {
    const ms = Number(new URL(request.url).searchParams.get("ms") ?? 300);
    waitUntil(new Promise((resolve) => setTimeout(resolve, ms)));
    return new Response("accepted", { status: 202 });
  },
};
