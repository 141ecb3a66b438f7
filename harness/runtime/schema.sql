-- The tables of every database pgstampede starts (docs/internals.md, "Database layout"), run
-- as the app role on a fresh database: by the process runtime (harness.runtime.postgres
-- SCHEMA_SQL reads this file) and at build time of the pgstampede/postgres image
-- (compose/postgres/init.sql includes it). The one copy.
CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, value int NOT NULL);
INSERT INTO items SELECT g, 'item-' || g, g % 1000 FROM generate_series(1, 10000) g;
CREATE TABLE writes (id bigserial PRIMARY KEY, t timestamptz NOT NULL DEFAULT now(),
                     source text, payload text);
CREATE TABLE background_jobs (id bigserial PRIMARY KEY, instance text,
                              scheduled_at timestamptz NOT NULL DEFAULT now(),
                              due_at timestamptz NOT NULL, completed_at timestamptz);
CREATE TABLE realtime_messages (id bigserial PRIMARY KEY,
                                published_at timestamptz NOT NULL DEFAULT clock_timestamp(),
                                source text, payload text);
CREATE TABLE counters (name text PRIMARY KEY, value bigint NOT NULL DEFAULT 0);
ANALYZE items;
