-- User mappings: pg_user_mappings shows umoptions only to the server's owner or a
-- superuser (NULL otherwise); secret-looking options are masked by the normaliser.
SELECT u.srvname AS server, CASE WHEN u.umuser = 0 THEN 'PUBLIC' ELSE u.usename END AS "user",
       u.umoptions AS options
FROM pg_user_mappings u
