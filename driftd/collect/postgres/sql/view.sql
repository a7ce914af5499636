-- Views and materialized views; their definitions come from view_definition.sql.
-- A materialized view's access_method is NULL for heap, its tablespace NULL for the
-- database's default (as a table's).
SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind,
       pg_get_userbyid(c.relowner) AS owner, d.description AS comment, c.reloptions AS options,
       coalesce(c.relacl, acldefault('r', c.relowner))::text[] AS grants,
       nullif((SELECT am.amname FROM pg_am am WHERE am.oid = c.relam), 'heap') AS access_method,
       (SELECT ts.spcname FROM pg_tablespace ts WHERE ts.oid = c.reltablespace) AS tablespace
FROM pg_class c
{{in_schema c pg_class relnamespace}}
WHERE {{wanted c pg_class relnamespace}} AND c.relkind IN ('v', 'm')
