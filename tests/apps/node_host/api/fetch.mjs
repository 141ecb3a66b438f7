// The Web-standard signature: export default { fetch(request) }, for every method.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    return Response.json({ method: request.method, path: url.pathname, q: url.searchParams.get("q"),
      body: await request.text() });
  },
};
