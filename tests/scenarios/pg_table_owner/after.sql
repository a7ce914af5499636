ALTER TABLE public.customers OWNER TO {{prefix}}app;
