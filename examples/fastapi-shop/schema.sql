-- The shop's tables, created once on a fresh database.
CREATE TABLE IF NOT EXISTS products (
    id          serial PRIMARY KEY,
    name        text NOT NULL,
    price_cents integer NOT NULL
);

CREATE TABLE IF NOT EXISTS orders (
    id          bigserial PRIMARY KEY,
    product_id  integer NOT NULL REFERENCES products (id),
    quantity    integer NOT NULL,
    email       text NOT NULL,
    total_cents integer NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per confirmation actually sent (by the background task, after the response).
CREATE TABLE IF NOT EXISTS emails (
    id         bigserial PRIMARY KEY,
    order_id   bigint NOT NULL REFERENCES orders (id),
    recipient  text NOT NULL,
    subject    text NOT NULL,
    sent_at    timestamptz NOT NULL DEFAULT now()
);

INSERT INTO products (name, price_cents)
SELECT 'product ' || g, 100 + (g * 37) % 900
FROM generate_series(1, 200) AS g
WHERE NOT EXISTS (SELECT 1 FROM products);
