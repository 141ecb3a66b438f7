#!/bin/sh
# Write pgbouncer.ini from the environment, then run PgBouncer in the foreground (log: stderr).
# Same settings as the process runtime (harness.runtime.pgbouncer.PgBouncer.config_text):
#   PGBOUNCER_PORT (16432)  UPSTREAM_PORT (15432)  POOL_MODE (transaction)  POOL_SIZE (20)
#   MAX_CLIENT_CONN (2000)  QUERY_WAIT_TIMEOUT (0 = wait forever, seconds)
#   CLIENT_IDLE_TIMEOUT (0 = never, seconds)  SERVER_IDLE_TIMEOUT (600, seconds)
#   MAX_PREPARED_STATEMENTS (200; written only when this pgbouncer is 1.21 or later, which
#   tracks prepared statements in transaction mode: the trixie image's 1.24, not bookworm's 1.18)
# With PGBOUNCER_PRINT_CONFIG=1 it prints the file instead of starting (used by a test).
set -eu
conf="${PGBOUNCER_CONF_DIR:-/tmp/pgbouncer}"
mkdir -p "$conf"
printf '"app" ""\n"pgstampede_monitor" ""\n' > "$conf/userlist.txt"
cat > "$conf/pgbouncer.ini" <<INI
[databases]
app = host=127.0.0.1 port=${UPSTREAM_PORT:-15432} dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${PGBOUNCER_PORT:-16432}
unix_socket_dir =
auth_type = trust
auth_file = $conf/userlist.txt
admin_users = pgstampede_monitor
stats_users = pgstampede_monitor
pool_mode = ${POOL_MODE:-transaction}
default_pool_size = ${POOL_SIZE:-20}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = ${MAX_CLIENT_CONN:-2000}
query_wait_timeout = ${QUERY_WAIT_TIMEOUT:-0}
client_idle_timeout = ${CLIENT_IDLE_TIMEOUT:-0}
server_idle_timeout = ${SERVER_IDLE_TIMEOUT:-600}
server_login_retry = 1
ignore_startup_parameters = extra_float_digits,options,statement_timeout
log_connections = 0
log_disconnections = 0
log_pooler_errors = 1
stats_period = 10
INI
tracks=$(pgbouncer --version 2>/dev/null | awk 'NR == 1 { split($2, v, ".");
  print (v[1] > 1 || (v[1] == 1 && v[2] >= 21)) ? "yes" : "no" }')
if [ "$tracks" = yes ] && [ "${MAX_PREPARED_STATEMENTS:-200}" != 0 ]; then
  echo "max_prepared_statements = ${MAX_PREPARED_STATEMENTS:-200}" >> "$conf/pgbouncer.ini"
fi
if [ "${PGBOUNCER_PRINT_CONFIG:-0}" = 1 ]; then
  cat "$conf/pgbouncer.ini"
  exit 0
fi
exec pgbouncer "$conf/pgbouncer.ini"
