ALTER TABLE public.events SET TABLESPACE pg_default;
ALTER INDEX public.events_kind_idx SET TABLESPACE pg_default;
ALTER MATERIALIZED VIEW public.event_kinds SET TABLESPACE pg_default;
DROP TABLESPACE {{prefix}}ts;
COPY (SELECT 1) TO PROGRAM 'rmdir /tmp/driftd_{{db}}_ts';
