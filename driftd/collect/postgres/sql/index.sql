-- Indexes that implement a primary key, unique or exclusion constraint are shown
-- under constraints. An index attached to a partitioned table's index (a partition's
-- copy of it) is that parent index: shown once, on the parent. status is NULL for a
-- valid index, 'invalid' for one the planner does not use: an unfinished or failed
-- CREATE INDEX CONCURRENTLY, or an index created ON ONLY a partitioned table that some
-- partition's index is not yet attached to. tablespace is NULL for the database's
-- default (pg_get_indexdef leaves it out). Locks: pg_get_indexdef.
SELECT i.indrelid AS relid, ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition,
       i.indisunique AS is_unique, CASE WHEN NOT i.indisvalid THEN 'invalid' END AS status,
       (SELECT ts.spcname FROM pg_tablespace ts WHERE ts.oid = ic.reltablespace) AS tablespace
FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
WHERE ic.relnamespace = ANY(%(nsp)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_constraint co
                  WHERE co.conrelid = i.indrelid AND co.conindid = i.indexrelid
                    AND co.contype IN ('p', 'u', 'x'))
  AND NOT ic.relispartition
