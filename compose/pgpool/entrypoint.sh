#!/bin/sh
# Write pgpool.conf and pcp.conf from the environment (PGPOOL_CONF, PCP_CONF: their whole
# text, made by the harness), then run pgpool-II in the foreground (log: stderr).
set -eu
conf="${PGPOOL_CONF_DIR:-/tmp/pgpool}"
mkdir -p "$conf"
umask 077
printf '%s\n' "$PGPOOL_CONF" > "$conf/pgpool.conf"
printf '%s\n' "$PCP_CONF" > "$conf/pcp.conf"
: > "$conf/pool_hba.conf"
exec pgpool -n -f "$conf/pgpool.conf" -F "$conf/pcp.conf" -a "$conf/pool_hba.conf"
