-- Logical replication publications (PostgreSQL 15+: TABLES IN SCHEMA, row filters and
-- column lists). Tables are "schema.table", with " WHERE (...)" and " (col, ...)" when the
-- publication filters rows or columns; a FOR ALL TABLES publication lists none.
SELECT p.pubname AS name, pg_get_userbyid(p.pubowner) AS owner, p.puballtables AS all_tables,
       json_build_object('insert', p.pubinsert, 'update', p.pubupdate,
                         'delete', p.pubdelete, 'truncate', p.pubtruncate) AS publish,
       p.pubviaroot AS publish_via_partition_root,
       ARRAY(SELECT n.nspname || '.' || c.relname
                    || coalesce(' (' || (SELECT string_agg(quote_ident(a.attname), ', '
                                                          ORDER BY a.attnum)
                                         FROM pg_attribute a
                                         WHERE a.attrelid = pr.prrelid
                                           AND a.attnum = ANY(pr.prattrs)) || ')', '')
                    || coalesce(' WHERE ' || pg_get_expr(pr.prqual, pr.prrelid), '')
             FROM pg_publication_rel pr
             JOIN pg_class c ON c.oid = pr.prrelid
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE pr.prpubid = p.oid) AS tables,
       ARRAY(SELECT n.nspname FROM pg_publication_namespace pn
             JOIN pg_namespace n ON n.oid = pn.pnnspid WHERE pn.pnpubid = p.oid) AS schemas,
       d.description AS comment
FROM pg_publication p
{{comment p pg_publication}}
