-- Schemas, but those an extension created (the caller drops the unwanted ones).
SELECT n.oid, n.nspname AS name, pg_get_userbyid(n.nspowner) AS owner,
       coalesce(n.nspacl, acldefault('n', n.nspowner))::text[] AS grants,
       d.description AS comment
FROM pg_namespace n
{{comment n pg_namespace}}
WHERE {{not_member n pg_namespace}}
