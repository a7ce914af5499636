#!/usr/bin/env bash
# Make sure the local PostgreSQL and MariaDB the tests use are running.
set -uo pipefail
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1; then
  echo "starting MariaDB" >&2
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && mariadb-admin -h 127.0.0.1 -uroot ping >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "warning: PostgreSQL or MariaDB did not come up; the tests will say how to start them" >&2
exit 0
