-- Foreign servers (SQL/MED). Options whose name looks secret are masked by the normaliser.
SELECT s.srvname AS name, w.fdwname AS wrapper, s.srvtype AS type, s.srvversion AS version,
       s.srvoptions AS options, pg_get_userbyid(s.srvowner) AS owner,
       coalesce(s.srvacl, acldefault('S', s.srvowner))::text[] AS grants,
       d.description AS comment
FROM pg_foreign_server s
JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
LEFT JOIN pg_description d ON d.objoid = s.oid AND d.classoid = 'pg_foreign_server'::regclass
                          AND d.objsubid = 0
WHERE NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = 'pg_foreign_server'::regclass
                  AND dep.objid = s.oid AND dep.deptype = 'e')
