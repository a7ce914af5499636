-- Operator classes of wanted schemas, not an extension's; args (the key's last part) is
-- the index access method. Their operators and support functions are listed on their
-- family (operator_family.sql), where ALTER OPERATOR FAMILY changes them too.
SELECT n.nspname AS schema, c.opcname AS name, am.amname AS args,
       format_type(c.opcintype, NULL) AS type, c.opcdefault AS "default",
       fn.nspname || '.' || f.opfname AS family,
       CASE WHEN c.opckeytype <> 0 THEN format_type(c.opckeytype, NULL) END AS storage,
       pg_get_userbyid(c.opcowner) AS owner, d.description AS comment
FROM pg_opclass c
{{in_schema c pg_opclass opcnamespace}}
JOIN pg_am am ON am.oid = c.opcmethod
JOIN pg_opfamily f ON f.oid = c.opcfamily
JOIN pg_namespace fn ON fn.oid = f.opfnamespace
WHERE {{wanted c pg_opclass opcnamespace}}
