// A route handler that forgets its Response: 500 naming the file.
export async function GET() {}
