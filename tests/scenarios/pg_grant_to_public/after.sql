GRANT SELECT ON public.customers TO PUBLIC;
