-- Functions, procedures, aggregates (their definition as a JSON map) and window functions.
-- deptype 'i': range/multirange constructors and the like belong to their type.
-- definition is JSON: pg_get_functiondef's text, or an aggregate's map.
SELECT n.nspname AS schema, p.proname AS name, pg_get_function_identity_arguments(p.oid) AS args,
       CASE p.prokind WHEN 'f' THEN 'function' WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate'
                      WHEN 'w' THEN 'window' END AS kind,
       pg_get_function_result(p.oid) AS returns, l.lanname AS language,
       CASE WHEN p.prokind <> 'a' THEN to_json(pg_get_functiondef(p.oid)) ELSE
         (SELECT json_build_object(
  'kind', CASE a.aggkind WHEN 'n' THEN 'normal' WHEN 'o' THEN 'ordered-set'
          ELSE 'hypothetical' END,
  'direct_args', a.aggnumdirectargs,
  'sfunc', NULLIF(a.aggtransfn::oid, 0)::regprocedure::text,
  'stype', format_type(a.aggtranstype, NULL),
  'sspace', a.aggtransspace,
  'finalfunc', NULLIF(a.aggfinalfn::oid, 0)::regprocedure::text,
  'finalfunc_extra', a.aggfinalextra,
  'finalfunc_modify', CASE a.aggfinalmodify WHEN 'r' THEN 'read_only' WHEN 's' THEN 'shareable'
                      ELSE 'read_write' END,
  'combinefunc', NULLIF(a.aggcombinefn::oid, 0)::regprocedure::text,
  'serialfunc', NULLIF(a.aggserialfn::oid, 0)::regprocedure::text,
  'deserialfunc', NULLIF(a.aggdeserialfn::oid, 0)::regprocedure::text,
  'initcond', a.agginitval,
  'msfunc', NULLIF(a.aggmtransfn::oid, 0)::regprocedure::text,
  'minvfunc', NULLIF(a.aggminvtransfn::oid, 0)::regprocedure::text,
  'mstype', CASE WHEN a.aggmtranstype <> 0 THEN format_type(a.aggmtranstype, NULL) END,
  'msspace', a.aggmtransspace,
  'mfinalfunc', NULLIF(a.aggmfinalfn::oid, 0)::regprocedure::text,
  'mfinalfunc_extra', a.aggmfinalextra,
  'mfinalfunc_modify', CASE a.aggmfinalmodify WHEN 'r' THEN 'read_only'
                       WHEN 's' THEN 'shareable' ELSE 'read_write' END,
  'minitcond', a.aggminitval,
  'sortop', CASE WHEN a.aggsortop <> 0 THEN a.aggsortop::regoperator::text END) FROM pg_aggregate a WHERE a.aggfnoid = p.oid) END AS definition,
       CASE p.provolatile WHEN 'i' THEN 'immutable' WHEN 's' THEN 'stable' WHEN 'v' THEN 'volatile'
                          END AS volatility,
       p.proisstrict AS strict, p.prosecdef AS security_definer, p.proleakproof AS leakproof,
       CASE p.proparallel WHEN 's' THEN 'safe' WHEN 'r' THEN 'restricted' WHEN 'u' THEN 'unsafe'
                          END AS parallel,
       p.proconfig AS config,
       pg_get_userbyid(p.proowner) AS owner,
       coalesce(p.proacl, acldefault('f', p.proowner))::text[] AS grants, d.description AS comment
FROM pg_proc p
{{in_schema p pg_proc pronamespace}}
JOIN pg_language l ON l.oid = p.prolang
WHERE {{wanted p pg_proc pronamespace i}}
