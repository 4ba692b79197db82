#!/usr/bin/env bash
# Starts PostgreSQL and Redis when they are down, so the PostgreSQL half of the suite runs
# instead of being skipped. The commands are the ones this machine's services start with.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "PostgreSQL is down: starting it"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "Redis is down: starting it"
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
# The PostgreSQL half of the suite runs as an ordinary role that owns its test database, as a
# deployment should: PostgreSQL holds no superuser to row-level security, so the tenant
# backstop (conversa/accounts/tenancy.py) would go untested under the default superuser.
psql_admin() { psql -h 127.0.0.1 -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 -qtAc "$1"; }
if [ "$(psql_admin "SELECT 1 FROM pg_roles WHERE rolname = 'conversa'")" != 1 ]; then
  psql_admin "CREATE ROLE conversa LOGIN CREATEDB"
fi
# A test database left by a run as another role: hand it over, so this run can drop it.
for name in "test_${PG_TEST_DATABASE:-test}" ${TEST_DATABASE_NAME:-}; do
  if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$name'")" = 1 ]; then
    psql_admin "ALTER DATABASE \"$name\" OWNER TO conversa"
  fi
done
pg_isready -h 127.0.0.1 -p 5432
redis-cli -h 127.0.0.1 -p 6379 ping
