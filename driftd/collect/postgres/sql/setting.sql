-- Parameters set on purpose; current_setting() shows the value with its unit. A parameter
-- named like a secret is masked here; a connection string (primary_conninfo) has its
-- password masked by the "setting_value" transform (driftd.collect.postgres.acl).
SELECT s.name,
       CASE WHEN s.name ~* '(password|passfile|secret|token)' THEN '********'
            ELSE current_setting(s.name) END AS value,
       s.source
FROM pg_settings s
WHERE s.source IN ('configuration file', 'command line', 'environment variable')
