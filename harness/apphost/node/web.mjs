// Web-standard handlers (`export default { fetch(request) }`, Next.js-style `export async function
// GET(request, context)`): a Node request made into a `Request`, the handler's `Response` written
// back to the Node response (streamed chunk by chunk).

const NO_BODY = new Set(["GET", "HEAD"]);

export async function toRequest(req) {
  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i].startsWith(":")) continue; // HTTP/2 pseudo-headers
    headers.append(raw[i], raw[i + 1]);
  }
  const init = { method: req.method ?? "GET", headers };
  if (!NO_BODY.has(init.method)) {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    if (chunks.length) init.body = Buffer.concat(chunks);
  }
  return new Request(requestUrl(req), init);
}

function requestUrl(req) {
  const host = req.headers.host || "127.0.0.1";
  try {
    return new URL(req.url ?? "/", `http://${host}`).href;
  } catch {
    return new URL(req.url ?? "/", "http://127.0.0.1").href;
  }
}

export function isResponse(value) {
  return value instanceof Response || (
    value !== null && typeof value === "object" &&
    typeof value.status === "number" && typeof value.headers?.forEach === "function"
  );
}

/** Write a Response to a Node ServerResponse; resolves when its body has been written. */
export async function writeResponse(res, response, method) {
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  const cookies = setCookies(response.headers);
  response.headers.forEach((value, name) => {
    if (name.toLowerCase() !== "set-cookie") res.setHeader(name, value);
  });
  if (cookies.length) res.setHeader("set-cookie", cookies);
  if (!response.body || method === "HEAD") {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await new Promise((resolve) => res.once("drain", resolve));
    }
  } finally {
    reader.releaseLock();
  }
  res.end();
}

/**
 * The Set-Cookie values one by one. Node 18's Headers (Debian 12's 18.20 included) has no
 * getSetCookie() and joins them with ", ": split where the next part starts a new cookie.
 */
export function setCookies(headers) {
  if (typeof headers.getSetCookie === "function") return headers.getSetCookie();
  const joined = headers.get("set-cookie");
  if (!joined) return [];
  return joined.split(/,(?=\s*[^=;,\s]+=)/).map((part) => part.trim());
}
