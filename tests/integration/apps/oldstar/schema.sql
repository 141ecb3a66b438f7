-- One row per /job request, inserted before the answer; done_at is set by the work the app
-- does after its response (a Starlette background task).
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    requested_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    delay_ms     integer NOT NULL,
    done_at      timestamptz
);
