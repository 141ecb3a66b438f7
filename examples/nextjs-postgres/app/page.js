export default function Home() {
  return (
    <main>
      <h1>Orders</h1>
      <p>
        <code>GET /api/orders</code>, <code>GET /api/orders/:id</code>,{" "}
        <code>POST /api/orders</code> with <code>{"{customer, sku, quantity}"}</code>.
      </p>
    </main>
  );
}
