ALTER TABLE public.customers SET (fillfactor = 70);
ALTER TABLE public.customers SET UNLOGGED;
