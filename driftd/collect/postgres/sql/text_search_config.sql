-- Text search configurations of wanted schemas, not an extension's. mappings:
-- {"<token type>": ["<dictionary>", ...]} (dictionaries in the order they are tried,
-- schema-qualified outside pg_catalog); parser likewise.
SELECT n.nspname AS schema, c.cfgname AS name,
       CASE WHEN pn.nspname = 'pg_catalog' THEN '' ELSE pn.nspname || '.' END || p.prsname
         AS parser,
       coalesce((SELECT jsonb_object_agg(t.alias, m.dicts)
                 FROM (SELECT maptokentype, array_agg(
                                CASE WHEN dn.nspname = 'pg_catalog' THEN '' ELSE dn.nspname || '.' END
                                  || dct.dictname ORDER BY mapseqno) AS dicts
                       FROM pg_ts_config_map
                       JOIN pg_ts_dict dct ON dct.oid = mapdict
                       JOIN pg_namespace dn ON dn.oid = dct.dictnamespace
                       WHERE mapcfg = c.oid GROUP BY maptokentype) m
                 JOIN ts_token_type(c.cfgparser) t ON t.tokid = m.maptokentype), '{}')
         AS mappings,
       pg_get_userbyid(c.cfgowner) AS owner, d.description AS comment
FROM pg_ts_config c
JOIN pg_namespace n ON n.oid = c.cfgnamespace
JOIN pg_ts_parser p ON p.oid = c.cfgparser
JOIN pg_namespace pn ON pn.oid = p.prsnamespace
LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_ts_config'::regclass
                          AND d.objsubid = 0
WHERE c.cfgnamespace = ANY(%(nsp)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep
                  WHERE dep.classid = 'pg_ts_config'::regclass AND dep.objid = c.oid
                    AND dep.deptype = 'e')
