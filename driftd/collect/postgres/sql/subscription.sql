-- Logical replication subscriptions of this database (PostgreSQL 15+). Only the columns
-- PUBLIC may read: subconninfo is a superuser's, so the connection string comes from
-- subscription_conninfo.sql, read only when driftd's role may (its password is masked).
SELECT s.subname AS name, pg_get_userbyid(s.subowner) AS owner, s.subenabled AS enabled,
       s.subslotname AS slot_name, s.subpublications AS publications,
       s.subsynccommit AS synchronous_commit, s.subbinary AS "binary",
       s.substream::text AS streaming, s.subtwophasestate::text AS two_phase,
       s.subdisableonerr AS disable_on_error, NULL::text AS conninfo,
       d.description AS comment
FROM pg_subscription s
{{comment s pg_subscription}}
WHERE s.subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())
