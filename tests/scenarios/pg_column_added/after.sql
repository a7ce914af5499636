ALTER TABLE public.customers ADD COLUMN phone text;
