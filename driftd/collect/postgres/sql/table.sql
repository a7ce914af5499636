-- Ordinary, partitioned and foreign tables. Locks: pg_get_expr(relpartbound) of partitions.
-- replica_identity is NULL for DEFAULT (the primary key, if any); access_method NULL for
-- heap (the built-in default; partitioned and foreign tables have none), tablespace NULL
-- for the database's default.
SELECT c.oid, n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner,
       c.relpersistence AS persistence, c.relrowsecurity AS rls,
       c.relforcerowsecurity AS rls_forced, d.description AS comment, c.reloptions AS options,
       coalesce(c.relacl, acldefault('r', c.relowner))::text[] AS grants,
       pt.partstrat AS strategy, CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partkey,
       c.relispartition AS is_partition,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
       ARRAY(SELECT pn.nspname || '.' || pc.relname FROM pg_inherits i
             JOIN pg_class pc ON pc.oid = i.inhparent
             JOIN pg_namespace pn ON pn.oid = pc.relnamespace
             WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) AS parents,
       c.relkind = 'f' AS is_foreign, fs.srvname AS server, ft.ftoptions AS foreign_options,
       CASE c.relreplident WHEN 'f' THEN 'full' WHEN 'n' THEN 'nothing'
         WHEN 'i' THEN 'index ' || (SELECT ic.relname FROM pg_index ri JOIN pg_class ic ON ic.oid = ri.indexrelid
                                    WHERE ri.indrelid = c.oid AND ri.indisreplident LIMIT 1)
       END AS replica_identity,
       nullif((SELECT am.amname FROM pg_am am WHERE am.oid = c.relam), 'heap') AS access_method,
       (SELECT ts.spcname FROM pg_tablespace ts WHERE ts.oid = c.reltablespace) AS tablespace
FROM pg_class c
{{in_schema c pg_class relnamespace}}
LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
WHERE {{wanted c pg_class relnamespace}} AND c.relkind IN ('r', 'p', 'f')
