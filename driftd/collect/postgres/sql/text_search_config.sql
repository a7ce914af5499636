-- Text search configurations of wanted schemas, not an extension's. mappings:
-- {"<token type>": ["<dictionary>", ...]} (dictionaries in the order they are tried,
-- schema-qualified outside pg_catalog); parser likewise.
SELECT n.nspname AS schema, c.cfgname AS name,
       {{name_outside_pg_catalog pg_ts_parser prsnamespace prsname c.cfgparser}} AS parser,
       coalesce((SELECT jsonb_object_agg(t.alias, m.dicts)
                 FROM (SELECT maptokentype, array_agg(
                                {{name_outside_pg_catalog pg_ts_dict dictnamespace dictname mapdict}}
                                ORDER BY mapseqno) AS dicts
                       FROM pg_ts_config_map
                       WHERE mapcfg = c.oid GROUP BY maptokentype) m
                 JOIN ts_token_type(c.cfgparser) t ON t.tokid = m.maptokentype), '{}')
         AS mappings,
       pg_get_userbyid(c.cfgowner) AS owner, d.description AS comment
FROM pg_ts_config c
{{in_schema c pg_ts_config cfgnamespace}}
WHERE {{wanted c pg_ts_config cfgnamespace}}
