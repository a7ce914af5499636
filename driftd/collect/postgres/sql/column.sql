-- Columns of every table and view at once (of a view, only those with a comment or
-- grants: nothing else of them is shown). A default cannot refer to a column, so it is
-- deparsed without its relation (relid 0): no lock, and much faster on 100k columns.
-- The quoted names of table columns are for the key definitions (FAST_KEY_DEFINITIONS).
-- Locks: pg_get_expr of generation expressions (STRICT: only columns that have one).
-- Fields added later (statistics, storage, compression, identity_options) are NULL at
-- their default, so a baseline accepted before they were read stays clean. storage is
-- shown only when it differs from the type's; identity_options are the options of the
-- identity's sequence that differ from those GENERATED ... AS IDENTITY gives it.
-- {compression} is attcompression on PostgreSQL 14+ (queries.columns_sql). local is true
-- for an inherited column also declared in the table itself (attislocal), else NULL (a
-- partition's columns come from its parent however it was made, so never for those).
SELECT a.attrelid AS relid, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       NOT a.attnotnull AS nullable,
       CASE WHEN a.attgenerated = '' THEN pg_get_expr(ad.adbin, 0) END AS default_expr,
       a.attidentity AS identity,
       CASE WHEN a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated,
       CASE WHEN a.attcollation <> t.typcollation THEN {{collation_name a.attcollation}} END AS collation,
       d.description AS comment,
       a.attacl::text[] AS acl,
       a.attnum, CASE WHEN c.relkind IN ('r', 'p') THEN quote_ident(a.attname) END AS quoted,
       nullif(a.attstattarget, -1) AS statistics,
       CASE WHEN a.attstorage <> t.typstorage THEN CASE a.attstorage WHEN 'p' THEN 'plain' WHEN 'e' THEN 'external' WHEN 'm' THEN 'main' WHEN 'x' THEN 'extended' END END AS storage,
       {compression} AS compression,
       ido.options AS identity_options,
       CASE WHEN a.attinhcount > 0 AND a.attislocal AND NOT c.relispartition THEN true END
         AS local
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
-- An identity's sequence options, for every identity column at once (set-based: the
-- query is planned without nested loops, read.py, so whatever the catalog statistics
-- say, 100k columns cost hash joins, never 100k index probes of each catalog).
LEFT JOIN (
  SELECT dep.refobjid, dep.refobjsubid, nullif(jsonb_strip_nulls(jsonb_build_object(
           'start', nullif(s.seqstart, 1), 'increment', nullif(s.seqincrement, 1),
           'min', nullif(s.seqmin, 1),
           'max', nullif(s.seqmax, CASE s.seqtypid WHEN 'int2'::regtype THEN 32767
                                                  WHEN 'int4'::regtype THEN 2147483647
                                                  ELSE 9223372036854775807 END),
           'cache', nullif(s.seqcache, 1), 'cycle', nullif(s.seqcycle, false))), '{}') AS options
  FROM pg_depend dep JOIN pg_sequence s ON s.seqrelid = dep.objid
  WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
    AND dep.deptype = 'i'
) ido ON ido.refobjid = a.attrelid AND ido.refobjsubid = a.attnum AND a.attidentity <> ''
LEFT JOIN pg_description d ON d.objoid = a.attrelid AND d.classoid = 'pg_class'::regclass
                          AND d.objsubid = a.attnum
WHERE c.relnamespace = ANY(%(nsp)s::oid[]) AND c.relkind IN ('r', 'p', 'f', 'v', 'm')
  AND a.attnum > 0 AND NOT a.attisdropped
  AND (c.relkind IN ('r', 'p', 'f') OR d.description IS NOT NULL OR a.attacl IS NOT NULL)
