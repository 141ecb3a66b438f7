// Route handlers from CommonJS: exports.GET.
exports.GET = async () => new Response("cjs route", { headers: { "content-type": "text/plain" } });
