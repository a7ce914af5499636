-- Operator families of wanted schemas, not an extension's; args is the index access
-- method. operators: {"<strategy> (<left>, <right>)": "<operator> [FOR ORDER BY <family>]"};
-- functions: {"<support number> (<left>, <right>)": "<function>"}, whether they came with a
-- CREATE OPERATOR CLASS or an ALTER OPERATOR FAMILY ... ADD.
SELECT n.nspname AS schema, f.opfname AS name, am.amname AS args,
       coalesce((SELECT jsonb_object_agg(
                   o.amopstrategy || ' (' || format_type(o.amoplefttype, NULL) || ', '
                     || format_type(o.amoprighttype, NULL) || ')',
                   o.amopopr::regoperator::text
                     || CASE WHEN o.amoppurpose = 'o' THEN ' FOR ORDER BY '
                          || (SELECT sn.nspname || '.' || sf.opfname FROM pg_opfamily sf
                              JOIN pg_namespace sn ON sn.oid = sf.opfnamespace
                              WHERE sf.oid = o.amopsortfamily) ELSE '' END)
                 FROM pg_amop o WHERE o.amopfamily = f.oid), '{}') AS operators,
       coalesce((SELECT jsonb_object_agg(
                   p.amprocnum || ' (' || format_type(p.amproclefttype, NULL) || ', '
                     || format_type(p.amprocrighttype, NULL) || ')',
                   p.amproc::regprocedure::text)
                 FROM pg_amproc p WHERE p.amprocfamily = f.oid), '{}') AS functions,
       pg_get_userbyid(f.opfowner) AS owner, d.description AS comment
FROM pg_opfamily f
{{in_schema f pg_opfamily opfnamespace}}
JOIN pg_am am ON am.oid = f.opfmethod
WHERE {{wanted f pg_opfamily opfnamespace}}
