#!/bin/sh
# The platform gateway for docker compose: write its PlatformConfig from the environment, then
# serve on 127.0.0.1:$GATEWAY_PORT, starting one instance container per cold start.
# PGSTAMPEDE_COMPOSE_DIR must be mounted at the same path as on the host: the instances'
# Unix sockets are created there and bind-mounted into the instance containers.
set -eu
dir="${PGSTAMPEDE_COMPOSE_DIR:-/tmp/pgstampede-compose}"
mkdir -p "$dir"
cat > "$dir/platform.json" <<JSON
{
  "spawner": "docker",
  "instance_image": "${INSTANCE_IMAGE:-pgstampede/instance:latest}",
  "run_label": "${PGSTAMPEDE_RUN_LABEL:-compose}",
  "dsn": "${PGSTAMPEDE_DSN:-postgresql://app@127.0.0.1:15432/app}",
  "statement_cache_size": "${PGSTAMPEDE_STATEMENT_CACHE_SIZE:-}",
  "ssl": "${PGSTAMPEDE_SSL:-disable}",
  "max_instances": ${MAX_INSTANCES:-1000},
  "instance_concurrency": ${INSTANCE_CONCURRENCY:-1},
  "idle_timeout_s": ${IDLE_TIMEOUT_S:-30},
  "scale_rate": ${SCALE_RATE:-100},
  "freeze": ${FREEZE:-true},
  "reap": "${REAP:-kill}",
  "when_full": "${WHEN_FULL:-queue}",
  "app_name": "pgstampede-serverless"
}
JSON
exec python -m harness.platform.gateway --config "$dir/platform.json" \
  --port "${GATEWAY_PORT:-18080}" --workdir "$dir/gateway"
