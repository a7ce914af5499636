-- Schemas, but those an extension created (the caller drops the unwanted ones).
SELECT n.oid, n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner,
       coalesce(n.nspacl, acldefault('n', n.nspowner))::text[] AS grants,
       d.description AS comment
FROM pg_namespace n LEFT JOIN pg_description d ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass AND d.objsubid = 0
WHERE NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_namespace'::regclass AND dep.objid = n.oid AND dep.deptype IN ('e'))
