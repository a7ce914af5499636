-- Memberships are aggregated once and joined, not looked up per role (pg_auth_members
-- is scanned whole by a correlated subquery: quadratic with a thousand roles).
-- Never pg_authid: no password hash is ever fetched.
SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolcreatedb AS createdb,
       r.rolcreaterole AS createrole, r.rolcanlogin AS login, r.rolreplication AS replication,
       r.rolbypassrls AS bypassrls, r.rolinherit AS inherit, r.rolconnlimit AS connection_limit,
       CASE WHEN isfinite(r.rolvaliduntil) THEN r.rolvaliduntil AT TIME ZONE 'UTC' END
         AS valid_until,
       CASE WHEN NOT isfinite(r.rolvaliduntil) THEN r.rolvaliduntil::text END
         AS valid_until_special,
       r.rolconfig AS config, m.groups AS member_of, sd.description AS comment
FROM pg_roles r
LEFT JOIN pg_shdescription sd ON sd.objoid = r.oid AND sd.classoid = 'pg_authid'::regclass
LEFT JOIN (
  SELECT am.member, json_object_agg(g.rolname, am.admin) AS groups
  FROM (SELECT member, roleid, bool_or(admin_option) AS admin
        FROM pg_auth_members GROUP BY member, roleid) am
  JOIN pg_roles g ON g.oid = am.roleid
  GROUP BY am.member) m ON m.member = r.oid
