-- Casts created in the database: not the built-in ones (OIDs below FirstNormalObjectId,
-- 16384), not an extension's, not those PostgreSQL makes itself (a range type's cast to
-- its multirange type: an internal dependency on the type). args is the key, "<source> AS <target>" (format_type, so
-- schema-qualified outside pg_catalog). function is regprocedure text; NULL for WITHOUT
-- FUNCTION and INOUT casts (method says which).
SELECT format_type(c.castsource, NULL) || ' AS ' || format_type(c.casttarget, NULL) AS args,
       CASE c.castmethod WHEN 'f' THEN 'function' WHEN 'b' THEN 'binary'
                         WHEN 'i' THEN 'inout' END AS method,
       CASE WHEN c.castfunc <> 0 THEN c.castfunc::regprocedure::text END AS function,
       CASE c.castcontext WHEN 'e' THEN 'explicit' WHEN 'a' THEN 'assignment'
                          WHEN 'i' THEN 'implicit' END AS context,
       d.description AS comment
FROM pg_cast c
{{comment c pg_cast}}
WHERE c.oid >= 16384 AND {{not_member c pg_cast i}}
