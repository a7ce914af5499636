COPY (SELECT 1) TO PROGRAM 'mkdir -p -m 700 /tmp/driftd_{{db}}_ts';
CREATE ROLE {{prefix}}disk;
CREATE TABLESPACE {{prefix}}ts OWNER {{prefix}}disk LOCATION '/tmp/driftd_{{db}}_ts' WITH (random_page_cost = 1.1);
CREATE TABLE public.events (id bigint PRIMARY KEY, kind text, payload text) TABLESPACE {{prefix}}ts;
CREATE INDEX events_kind_idx ON public.events (kind) TABLESPACE {{prefix}}ts;
CREATE MATERIALIZED VIEW public.event_kinds TABLESPACE {{prefix}}ts AS SELECT DISTINCT kind FROM public.events;
