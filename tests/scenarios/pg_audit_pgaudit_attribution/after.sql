GRANT SELECT ON public.customers TO PUBLIC;
ALTER TABLE public.customers ADD COLUMN phone text DEFAULT '555-0100';
