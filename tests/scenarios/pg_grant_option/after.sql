GRANT SELECT ON public.customers TO {{prefix}}app WITH GRANT OPTION;
