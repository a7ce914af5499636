-- Access methods created in the database (CREATE ACCESS METHOD): not the built-in ones
-- (OIDs below FirstNormalObjectId, 16384), not an extension's (bloom's, ...).
SELECT am.amname AS name,
       CASE am.amtype WHEN 't' THEN 'table' WHEN 'i' THEN 'index' END AS type,
       am.amhandler::regprocedure::text AS handler, d.description AS comment
FROM pg_am am
LEFT JOIN pg_description d ON d.objoid = am.oid AND d.classoid = 'pg_am'::regclass
                          AND d.objsubid = 0
WHERE am.oid >= 16384
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep
                  WHERE dep.classid = 'pg_am'::regclass AND dep.objid = am.oid
                    AND dep.deptype = 'e')
