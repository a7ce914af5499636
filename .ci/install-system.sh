#!/usr/bin/env bash
# System packages the test suite needs beyond PostgreSQL itself. Idempotent:
# installs only what is missing. Run as root (CI runs it before the tests).
set -euo pipefail

need=()
if [ ! -e /usr/lib/postgresql/15/lib/pgaudit.so ]; then
  need+=(postgresql-15-pgaudit)  # tests/test_pgaudit_cluster.py loads it
fi

if ! command -v prometheus-alertmanager >/dev/null; then
  need+=(prometheus-alertmanager)  # tests run two real Alertmanagers (an HA pair)
fi
if ! command -v promtool >/dev/null; then
  need+=(prometheus)  # promtool check metrics on /metrics
fi
if ! command -v systemd-analyze >/dev/null; then
  need+=(systemd)  # systemd-analyze verify / security on systemd/driftd.service
fi

if ! command -v chromium >/dev/null; then
  need+=(chromium)  # tests/test_report_evidence.py renders the HTML report headless
fi

if [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y --no-install-recommends "${need[@]}"
fi
