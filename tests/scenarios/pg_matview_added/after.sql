CREATE MATERIALIZED VIEW public.order_totals AS SELECT count(*) AS n, sum(qty) AS qty FROM public.orders;
