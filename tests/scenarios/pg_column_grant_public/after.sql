GRANT SELECT (email) ON public.customers TO PUBLIC;
