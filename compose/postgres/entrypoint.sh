#!/bin/sh
# Start the cluster initialised at build time, in the foreground, on 127.0.0.1:$PGPORT.
# The defaults below are the harness's (harness.runtime.postgres: connection logging, UTC log
# timestamps, durability off); arguments are more postgres options and win over them, e.g.
#   docker run --network host pgstampede/postgres -c max_connections=40
# The server log goes to stderr (docker logs); the harness copies it to the run folder.
set -eu
exec postgres -D "$PGDATA" -p "${PGPORT:-15432}" \
  -c listen_addresses=127.0.0.1 -c unix_socket_directories= \
  -c log_connections=on -c log_disconnections=on -c 'log_line_prefix=%m [%p] %e ' \
  -c log_timezone=UTC -c logging_collector=off -c shared_buffers=64MB \
  -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
  "$@"
