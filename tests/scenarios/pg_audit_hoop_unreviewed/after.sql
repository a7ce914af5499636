GRANT UPDATE ON public.customers TO {{prefix}}app;
GRANT SELECT ON public.orders TO {{prefix}}reporting;
