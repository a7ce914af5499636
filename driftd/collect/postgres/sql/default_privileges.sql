-- The stored ACL as is: per-schema entries add to the global ones, global ones replace
-- the built-in defaults, so neither is expanded.
SELECT pg_get_userbyid(a.defaclrole) AS role, a.defaclnamespace AS nsp,
       a.defaclobjtype AS objtype, a.defaclacl::text[] AS acl
FROM pg_default_acl a
