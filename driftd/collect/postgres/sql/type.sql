-- Enum, domain, composite (standalone only: not a table's row type) and range types.
-- Array and multirange types are typtype 'b'/'m' and so never selected. details holds
-- the fields of the type's kind, spread into the object (pg_transforms "spread").
SELECT n.nspname AS schema, t.typname AS name,
       CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'c' THEN 'composite'
                      WHEN 'r' THEN 'range' END AS kind,
       pg_get_userbyid(t.typowner) AS owner,
       coalesce(t.typacl, acldefault('T', t.typowner))::text[] AS grants, d.description AS comment,
       CASE t.typtype
       WHEN 'e' THEN json_build_object('labels', ARRAY(SELECT e.enumlabel::text FROM pg_enum e
                                            WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder))
       WHEN 'd' THEN json_build_object(
         'base_type', format_type(t.typbasetype, t.typtypmod),
         'not_null', t.typnotnull,
         'default', pg_get_expr(t.typdefaultbin, 0),
         'collation', CASE WHEN t.typcollation <> bt.typcollation
                      THEN {{collation_name t.typcollation}} END,
         'constraints', coalesce((SELECT json_object_agg(c.conname, pg_get_constraintdef(c.oid))
                                  FROM pg_constraint c WHERE c.contypid = t.oid), '{}'))
       WHEN 'c' THEN json_build_object('attributes', coalesce((
         SELECT json_object_agg(at.attname, json_build_object(
                  'type', at.type, 'collation', at.collation, 'position', at.position))
         FROM (SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type,
                      CASE WHEN a.attcollation <> att.typcollation
                           THEN {{collation_name a.attcollation}} END AS collation,
                      row_number() OVER (ORDER BY a.attnum) AS position
               FROM pg_attribute a JOIN pg_type att ON att.oid = a.atttypid
               WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) at),
         '{}'))
       ELSE (
         SELECT json_build_object(
           'subtype', format_type(r.rngsubtype, NULL),
           'subtype_opclass', (SELECT on_.nspname || '.' || oc.opcname FROM pg_opclass oc
                               JOIN pg_namespace on_ ON on_.oid = oc.opcnamespace
                               WHERE oc.oid = r.rngsubopc),
           'collation', CASE WHEN r.rngcollation <> 0 THEN {{collation_name r.rngcollation}} END,
           'canonical', NULLIF(r.rngcanonical::oid, 0)::regprocedure::text,
           'subtype_diff', NULLIF(r.rngsubdiff::oid, 0)::regprocedure::text)
         FROM pg_range r WHERE r.rngtypid = t.oid)
       END AS details
FROM pg_type t
{{in_schema t pg_type typnamespace}}
LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
WHERE {{wanted t pg_type typnamespace}} AND t.typtype IN ('e', 'd', 'c', 'r')
  AND (t.typtype <> 'c'
       OR EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind = 'c'))
