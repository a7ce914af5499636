-- Event triggers of the database (not of an extension). function is regprocedure text,
-- schema-qualified (search_path is pg_catalog); tags are sorted.
SELECT e.evtname AS name, e.evtevent AS event, e.evtfoid::regprocedure::text AS function,
       coalesce(e.evttags, '{}') AS tags,
       CASE e.evtenabled WHEN 'O' THEN 'origin' WHEN 'D' THEN 'disabled'
                         WHEN 'R' THEN 'replica' WHEN 'A' THEN 'always' END AS enabled,
       pg_get_userbyid(e.evtowner) AS owner, d.description AS comment
FROM pg_event_trigger e
{{comment e pg_event_trigger}}
WHERE {{not_member e pg_event_trigger}}
