-- Extended statistics objects (CREATE STATISTICS) of wanted schemas, not of an extension.
-- target is NULL at the default (ALTER STATISTICS ... SET STATISTICS: stxstattarget, -1
-- or, from PostgreSQL 17, NULL). Their data (pg_statistic_ext_data) is left out.
-- pg_get_statisticsobjdef does not lock.
SELECT n.nspname AS schema, s.stxname AS name, pg_get_statisticsobjdef(s.oid) AS definition,
       nullif((to_jsonb(s) ->> 'stxstattarget')::int, -1) AS target,
       pg_get_userbyid(s.stxowner) AS owner, d.description AS comment
FROM pg_statistic_ext s
{{in_schema s pg_statistic_ext stxnamespace}}
WHERE {{wanted s pg_statistic_ext stxnamespace}}
