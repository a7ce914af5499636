-- Memberships are aggregated once and joined, not looked up per role (pg_auth_members
-- is scanned whole by a correlated subquery: quadratic with a thousand roles).
-- Never pg_authid: no password hash is ever fetched. valid_until is ISO 8601 in UTC
-- (microseconds only when there are some), so it does not depend on the session's
-- TimeZone; or 'infinity'.
SELECT r.rolname AS name, r.rolsuper AS superuser, r.rolcreatedb AS createdb,
       r.rolcreaterole AS createrole, r.rolcanlogin AS login, r.rolreplication AS replication,
       r.rolbypassrls AS bypassrls, r.rolinherit AS inherit, r.rolconnlimit AS connection_limit,
       CASE WHEN NOT isfinite(r.rolvaliduntil) THEN r.rolvaliduntil::text
            ELSE to_char(r.rolvaliduntil AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
                 || CASE WHEN date_trunc('second', r.rolvaliduntil) <> r.rolvaliduntil
                         THEN to_char(r.rolvaliduntil AT TIME ZONE 'UTC', '.US') ELSE '' END
                 || 'Z' END AS valid_until,
       r.rolconfig AS config, coalesce(m.groups, '{}') AS member_of, sd.description AS comment
FROM pg_roles r
LEFT JOIN pg_shdescription sd ON sd.objoid = r.oid AND sd.classoid = 'pg_authid'::regclass
LEFT JOIN (
  SELECT am.member,
         json_object_agg(g.rolname, json_build_object('admin_option', am.admin)) AS groups
  FROM (SELECT member, roleid, bool_or(admin_option) AS admin
        FROM pg_auth_members GROUP BY member, roleid) am
  JOIN pg_roles g ON g.oid = am.roleid
  GROUP BY am.member) m ON m.member = r.oid
