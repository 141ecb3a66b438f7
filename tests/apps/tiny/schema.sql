CREATE TABLE orders (id bigserial PRIMARY KEY, item int NOT NULL, token text NOT NULL DEFAULT '');
