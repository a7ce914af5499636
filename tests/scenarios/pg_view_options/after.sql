ALTER VIEW public.big_orders SET (security_invoker = true);
GRANT SELECT ON public.big_orders TO {{prefix}}reporting;
