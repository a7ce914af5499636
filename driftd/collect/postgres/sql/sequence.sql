-- Sequences (never their current value). deptype 'i': identity-column sequences belong to
-- their column.
SELECT n.nspname AS schema, c.relname AS name, format_type(s.seqtypid, NULL) AS data_type,
       s.seqstart AS start, s.seqincrement AS increment, s.seqmin AS min, s.seqmax AS max,
       s.seqcache AS cache, s.seqcycle AS cycle,
       (SELECT tn.nspname || '.' || tc.relname || '.' || ta.attname
        FROM pg_depend o
        JOIN pg_class tc ON tc.oid = o.refobjid
        JOIN pg_namespace tn ON tn.oid = tc.relnamespace
        JOIN pg_attribute ta ON ta.attrelid = tc.oid AND ta.attnum = o.refobjsubid
        WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid
          AND o.refclassid = 'pg_class'::regclass AND o.deptype = 'a' AND o.refobjsubid > 0
        ORDER BY 1 LIMIT 1) AS owned_by,
       pg_get_userbyid(c.relowner) AS owner,
       coalesce(c.relacl, acldefault('s', c.relowner))::text[] AS grants, d.description AS comment
FROM pg_sequence s
JOIN pg_class c ON c.oid = s.seqrelid
{{in_schema c pg_class relnamespace}}
WHERE {{wanted c pg_class relnamespace i}}
