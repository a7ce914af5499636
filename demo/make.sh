#!/usr/bin/env bash
# Rebuild demo/shop.db and baselines/demo.json from shop.sql and drift.sql.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f demo/shop.db
python3 - <<'PY'
import sqlite3
con = sqlite3.connect("demo/shop.db")
con.executescript(open("demo/shop.sql").read())
con.close()
PY
driftd --config config.example.toml baseline accept demo --reason "demo: schema from demo/shop.sql"
python3 - <<'PY'
import sqlite3
con = sqlite3.connect("demo/shop.db")
con.executescript(open("demo/drift.sql").read())
con.execute("VACUUM")
con.close()
PY
