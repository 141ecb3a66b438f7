// waitUntil work that fails after the response: reported, the instance keeps serving.
const getContext = () => globalThis[Symbol.for("@vercel/request-context")]?.get?.() ?? {};

async function sendEmail() {
  await new Promise((resolve) => setTimeout(resolve, 20));
  throw new Error("smtp down");
}

export default function handler(req, res) {
  getContext().waitUntil(sendEmail());
  res.json({ queued: true });
}
