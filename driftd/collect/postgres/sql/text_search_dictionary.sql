-- Text search dictionaries of wanted schemas, not an extension's. options is
-- dictinitoption as the server keeps it (stopwords = 'english', ...).
SELECT n.nspname AS schema, t.dictname AS name,
       {{name_outside_pg_catalog pg_ts_template tmplnamespace tmplname t.dicttemplate}} AS template,
       t.dictinitoption AS options,
       pg_get_userbyid(t.dictowner) AS owner, d.description AS comment
FROM pg_ts_dict t
{{in_schema t pg_ts_dict dictnamespace}}
WHERE {{wanted t pg_ts_dict dictnamespace}}
