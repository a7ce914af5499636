-- Foreign data wrappers not created by an extension (postgres_fdw's, file_fdw's are the
-- extension's). handler and validator are regprocedure text, schema-qualified; options
-- whose name looks secret are masked by the normaliser.
SELECT w.fdwname AS name,
       CASE WHEN w.fdwhandler <> 0 THEN w.fdwhandler::regprocedure::text END AS handler,
       CASE WHEN w.fdwvalidator <> 0 THEN w.fdwvalidator::regprocedure::text END AS validator,
       w.fdwoptions AS options, pg_get_userbyid(w.fdwowner) AS owner,
       coalesce(w.fdwacl, acldefault('F', w.fdwowner))::text[] AS grants,
       d.description AS comment
FROM pg_foreign_data_wrapper w
{{comment w pg_foreign_data_wrapper}}
WHERE {{not_member w pg_foreign_data_wrapper}}
