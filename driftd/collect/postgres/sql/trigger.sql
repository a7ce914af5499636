-- pg_get_triggerdef does not lock. Triggers cloned onto partitions are not internal
-- (PostgreSQL 15+): they show on each partition, where they can be disabled alone.
SELECT t.tgrelid AS relid, t.tgname AS name, pg_get_triggerdef(t.oid) AS definition,
       t.tgenabled AS enabled
FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = ANY(%(nsp)s::oid[]) AND NOT t.tgisinternal
