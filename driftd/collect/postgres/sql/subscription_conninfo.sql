-- The connection strings of the subscriptions, for a role that may read subconninfo.
SELECT s.subname AS name, s.subconninfo AS conninfo FROM pg_subscription s
WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND has_column_privilege('pg_catalog.pg_subscription', 'subconninfo', 'SELECT')
