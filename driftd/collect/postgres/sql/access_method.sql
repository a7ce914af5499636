-- Access methods created in the database (CREATE ACCESS METHOD): not the built-in ones
-- (OIDs below FirstNormalObjectId, 16384), not an extension's (bloom's, ...).
SELECT am.amname AS name,
       CASE am.amtype WHEN 't' THEN 'table' WHEN 'i' THEN 'index' END AS type,
       am.amhandler::regprocedure::text AS handler, d.description AS comment
FROM pg_am am
{{comment am pg_am}}
WHERE am.oid >= 16384 AND {{not_member am pg_am}}
