-- Rules (CREATE RULE) of tables and views; a view's own ON SELECT rule (_RETURN) is its
-- definition and is left out. Locks: pg_get_ruledef locks the relations a rule's actions
-- read and keeps the locks to the end of the transaction (like pg_get_viewdef), so the
-- reader runs this inside a savepoint that it rolls back.
SELECT r.ev_class AS relid, r.rulename AS name, pg_get_ruledef(r.oid, true) AS definition,
       r.ev_enabled AS enabled
FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
WHERE c.relnamespace = ANY(%(nsp)s::oid[]) AND c.relkind IN ('r', 'p', 'f', 'v')
  AND r.rulename <> '_RETURN'
