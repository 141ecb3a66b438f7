// Next.js-style route handlers: GET and POST only (other methods get 405).
export async function GET(request, { params }) {
  const { id } = await params;
  return Response.json({ id });
}

export async function POST(request) {
  const headers = new Headers({ "x-handler": "post" });
  headers.append("set-cookie", "a=1; Path=/");
  headers.append("set-cookie", "b=2; Expires=Wed, 21 Oct 2035 07:28:00 GMT");
  return new Response(JSON.stringify(await request.json()), { status: 202, headers });
}
