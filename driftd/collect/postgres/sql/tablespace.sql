-- Tablespaces (cluster-wide, like roles) but pg_default and pg_global. The caller keeps
-- those whose owner is a wanted role (the kind's pg_role_column). location is
-- pg_tablespace_location (a path of the database host, but one chosen by CREATE TABLESPACE).
SELECT t.spcname AS name, pg_tablespace_location(t.oid) AS location,
       pg_get_userbyid(t.spcowner) AS owner, t.spcoptions AS options,
       coalesce(t.spcacl, acldefault('t', t.spcowner))::text[] AS grants,
       sd.description AS comment
FROM pg_tablespace t
LEFT JOIN pg_shdescription sd ON sd.objoid = t.oid AND sd.classoid = 'pg_tablespace'::regclass
WHERE t.spcname NOT IN ('pg_default', 'pg_global')
