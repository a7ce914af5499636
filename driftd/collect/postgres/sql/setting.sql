-- Parameters set on purpose; current_setting() shows the value with its unit.
SELECT s.name, current_setting(s.name) AS value, s.source FROM pg_settings s
WHERE s.source IN ('configuration file', 'command line', 'environment variable')
