GRANT UPDATE (note) ON public.customers TO {{prefix}}app;
