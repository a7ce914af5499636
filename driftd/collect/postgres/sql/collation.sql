-- Collations created in wanted schemas (not those of pg_catalog or of an extension).
-- locale: the ICU locale, or libc's LC_COLLATE; ctype: libc's LC_CTYPE when it differs
-- from LC_COLLATE; icu_rules: PostgreSQL 16+. Columns that only some versions have are
-- read through to_jsonb (colliculocale 15-16, colllocale 17+, collicurules 16+). The
-- collation's version (collversion) follows the OS library and is left out.
SELECT n.nspname AS schema, co.collname AS name,
       CASE co.collprovider WHEN 'c' THEN 'libc' WHEN 'i' THEN 'icu' WHEN 'd' THEN 'default'
                            WHEN 'b' THEN 'builtin' ELSE co.collprovider::text END AS provider,
       coalesce(to_jsonb(co) ->> 'colllocale', to_jsonb(co) ->> 'colliculocale',
                co.collcollate::text) AS locale,
       CASE WHEN co.collctype::text IS DISTINCT FROM co.collcollate::text
             AND co.collprovider = 'c' THEN co.collctype::text END AS ctype,
       to_jsonb(co) ->> 'collicurules' AS icu_rules,
       co.collisdeterministic AS deterministic,
       pg_get_userbyid(co.collowner) AS owner, d.description AS comment
FROM pg_collation co
{{in_schema co pg_collation collnamespace}}
WHERE {{wanted co pg_collation collnamespace}}
