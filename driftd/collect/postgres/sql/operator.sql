-- Operators of wanted schemas, not an extension's. args is the key's "<left>, <right>"
-- (NONE for a prefix operator's left side); functions are regproc text and operators
-- regoperator text, schema-qualified outside pg_catalog.
SELECT n.nspname AS schema, o.oprname AS name,
       coalesce(format_type(nullif(o.oprleft, 0), NULL), 'NONE') || ', '
         || format_type(o.oprright, NULL) AS args,
       format_type(o.oprresult, NULL) AS result,
       o.oprcode::regprocedure::text AS function,
       CASE WHEN o.oprcom <> 0 THEN o.oprcom::regoperator::text END AS commutator,
       CASE WHEN o.oprnegate <> 0 THEN o.oprnegate::regoperator::text END AS negator,
       CASE WHEN o.oprrest <> 0 THEN o.oprrest::regprocedure::text END AS restrict,
       CASE WHEN o.oprjoin <> 0 THEN o.oprjoin::regprocedure::text END AS "join",
       o.oprcanhash AS hashes, o.oprcanmerge AS merges,
       pg_get_userbyid(o.oprowner) AS owner, d.description AS comment
FROM pg_operator o
{{in_schema o pg_operator oprnamespace}}
WHERE {{wanted o pg_operator oprnamespace}}
