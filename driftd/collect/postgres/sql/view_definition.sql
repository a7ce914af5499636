-- Unlike the functions elsewhere, pg_get_viewdef keeps the AccessShareLocks it takes (on the
-- view and every relation it reads) until the end of the transaction: it runs on batches
-- of views, each inside a savepoint that is rolled back to let go of those locks.
SELECT c.oid, pg_get_viewdef(c.oid, true) AS definition FROM pg_class c WHERE c.oid = ANY(%(rel)s::oid[])
