-- The function files' tables: an order per POST, and the email "sent" after its response.
CREATE TABLE orders (id bigserial PRIMARY KEY, customer text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE emails (id bigserial PRIMARY KEY, order_id bigint NOT NULL, sent_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO items SELECT i, 'item ' || i FROM generate_series(1, 100) AS i;
