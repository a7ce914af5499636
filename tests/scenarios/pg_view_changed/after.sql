CREATE OR REPLACE VIEW public.big_orders AS SELECT id, qty FROM public.orders WHERE qty > 20;
