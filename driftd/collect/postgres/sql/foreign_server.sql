-- Foreign servers (SQL/MED). Options whose name looks secret are masked by the normaliser.
SELECT s.srvname AS name, w.fdwname AS wrapper, s.srvtype AS type, s.srvversion AS version,
       s.srvoptions AS options, pg_get_userbyid(s.srvowner) AS owner,
       coalesce(s.srvacl, acldefault('S', s.srvowner))::text[] AS grants,
       d.description AS comment
FROM pg_foreign_server s
JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
{{comment s pg_foreign_server}}
WHERE {{not_member s pg_foreign_server}}
