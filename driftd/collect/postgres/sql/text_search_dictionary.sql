-- Text search dictionaries of wanted schemas, not an extension's. options is
-- dictinitoption as the server keeps it (stopwords = 'english', ...).
SELECT n.nspname AS schema, t.dictname AS name,
       CASE WHEN tn.nspname = 'pg_catalog' THEN '' ELSE tn.nspname || '.' END || tp.tmplname
         AS template,
       t.dictinitoption AS options,
       pg_get_userbyid(t.dictowner) AS owner, d.description AS comment
FROM pg_ts_dict t
JOIN pg_namespace n ON n.oid = t.dictnamespace
JOIN pg_ts_template tp ON tp.oid = t.dicttemplate
JOIN pg_namespace tn ON tn.oid = tp.tmplnamespace
LEFT JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_ts_dict'::regclass
                          AND d.objsubid = 0
WHERE t.dictnamespace = ANY(%(nsp)s::oid[])
  AND NOT EXISTS (SELECT 1 FROM pg_depend dep
                  WHERE dep.classid = 'pg_ts_dict'::regclass AND dep.objid = t.oid
                    AND dep.deptype = 'e')
