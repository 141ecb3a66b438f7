-- nextjs-postgres: the orders, and the confirmation emails written after each order's response.
CREATE TABLE orders (
  id bigserial PRIMARY KEY,
  customer text NOT NULL,
  sku text NOT NULL,
  quantity int NOT NULL CHECK (quantity > 0),
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE emails (
  id bigserial PRIMARY KEY,
  order_id bigint NOT NULL REFERENCES orders (id),
  recipient text NOT NULL,
  sent_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO orders (customer, sku, quantity)
SELECT 'customer ' || i, 'SKU-' || (i % 50), 1 + i % 5 FROM generate_series(1, 200) AS i;
