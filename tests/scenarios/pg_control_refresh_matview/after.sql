INSERT INTO public.orders (qty) VALUES (7);
REFRESH MATERIALIZED VIEW public.order_totals;
