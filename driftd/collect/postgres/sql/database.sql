-- The database driftd is connected to. A NULL ACL reads as acldefault: the owner's implicit
-- privileges and PUBLIC's defaults.
SELECT db.datname AS name, pg_get_userbyid(db.datdba) AS owner,
       pg_encoding_to_char(db.encoding) AS encoding, db.datcollate AS collation,
       db.datctype AS ctype, coalesce(db.datacl, acldefault('d', db.datdba))::text[] AS grants,
       sd.description AS comment
FROM pg_database db
LEFT JOIN pg_shdescription sd ON sd.objoid = db.oid AND sd.classoid = 'pg_database'::regclass
WHERE db.datname = current_database()
