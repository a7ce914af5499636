-- Indexes that implement a primary key, unique or exclusion constraint are shown
-- under constraints. Locks: pg_get_indexdef.
SELECT i.indrelid AS relid, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS is_unique
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE ic.relnamespace = ANY(%(nsp)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co
                  WHERE co.conrelid = i.indrelid AND co.conindid = i.indexrelid
                    AND co.contype IN ('p', 'u', 'x'))
