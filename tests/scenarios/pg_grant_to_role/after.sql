GRANT SELECT, INSERT ON public.customers TO {{prefix}}app;
