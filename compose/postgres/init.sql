-- The database every pgstampede cluster starts with (docs/internals.md, "Database layout");
-- run once at image build time by the bootstrap superuser pgstampede_monitor. The roles are
-- harness.runtime.postgres's; the tables are harness/runtime/schema.sql, the process
-- runtime's own file, copied beside this one by the Dockerfile.
CREATE ROLE app LOGIN;
CREATE DATABASE app OWNER app;
\connect app app
\ir schema.sql
