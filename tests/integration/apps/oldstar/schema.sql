-- The test's own record database (not the variant's): what the app did, kept after the run.
-- startups: one row per lifespan startup (worker or instance), with the Starlette it ran.
CREATE TABLE startups (
    id        bigserial PRIMARY KEY,
    tag       text NOT NULL,        -- RECORD_TAG: the variant database's port
    pid       integer NOT NULL,
    starlette text NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
);
-- jobs: one row per /job request, inserted before the answer; done_at is set by the work
-- the app does after its response (a Starlette background task).
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    tag          text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    delay_ms     integer NOT NULL,
    done_at      timestamptz
);
