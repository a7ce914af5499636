-- setrole = 0: ALTER DATABASE SET; otherwise ALTER ROLE ... IN DATABASE ... SET.
SELECT CASE WHEN s.setrole = 0 THEN NULL ELSE pg_get_userbyid(s.setrole) END AS role,
       s.setconfig AS config
FROM pg_db_role_setting s JOIN pg_database db ON db.oid = s.setdatabase
WHERE db.datname = current_database()
