-- Constraints of wanted tables; definitions the builder can write are left to it
-- ({fast} is the condition under which it can: see queries.constraints_sql).
-- Constraint triggers are listed under triggers. A foreign key that references a
-- partitioned table gets one clone per referenced partition on the same table: those
-- are internal bookkeeping of the parent constraint and are left out.
-- Locks: pg_get_constraintdef of CHECK constraints.
SELECT co.conrelid AS relid, co.conname AS name, co.contype,
       CASE WHEN NOT f.fast THEN pg_get_constraintdef(co.oid) END AS definition,
       co.condeferrable AS deferrable, co.condeferred AS deferred,
       co.convalidated AS validated, f.fast,
       co.conkey, co.confrelid, co.confkey, co.confmatchtype AS match,
       co.confupdtype AS on_update, co.confdeltype AS on_delete,
       quote_ident(fn.nspname) || '.' || quote_ident(fc.relname) AS referenced
FROM pg_constraint co
LEFT JOIN pg_index ci ON ci.indexrelid = co.conindid AND co.contype IN ('p', 'u')
LEFT JOIN pg_class fc ON fc.oid = co.confrelid AND co.contype = 'f'
LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace
CROSS JOIN LATERAL (SELECT {fast} AS fast) f
WHERE co.connamespace = ANY(%(nsp)s::oid[]) AND co.conrelid <> 0 AND co.contype <> 't'
  AND NOT EXISTS (SELECT 1 FROM pg_constraint pc
                  WHERE pc.oid = co.conparentid AND pc.conrelid = co.conrelid)
