-- Who holds an ACCESS EXCLUSIVE lock on a relation of this database (run on a fresh
-- connection after lock_timeout fired).
SELECT n.nspname AS schema, c.relname, c.relkind, l.pid, a.usename AS username,
       a.application_name, extract(epoch FROM now() - a.xact_start)::float8 AS age, a.query
FROM pg_locks l
LEFT JOIN pg_class c ON c.oid = l.relation
LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.pid IS DISTINCT FROM pg_backend_pid()
ORDER BY a.xact_start NULLS LAST, l.pid, n.nspname, c.relname
