-- The orders service's table, created once on a fresh database.
CREATE TABLE IF NOT EXISTS orders (
    id         bigserial PRIMARY KEY,
    customer   text NOT NULL,
    sku        text NOT NULL,
    quantity   integer NOT NULL CHECK (quantity > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO orders (customer, sku, quantity)
SELECT 'customer ' || g, 'SKU-' || (g % 50), 1 + g % 3
FROM generate_series(1, 100) AS g
WHERE NOT EXISTS (SELECT 1 FROM orders);
