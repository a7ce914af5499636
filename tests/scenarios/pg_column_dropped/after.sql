ALTER TABLE public.customers DROP COLUMN note;
