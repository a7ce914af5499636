ALTER TABLE public.customers ALTER COLUMN note TYPE varchar(200);
ALTER TABLE public.customers ALTER COLUMN note SET DEFAULT 'none';
ALTER TABLE public.customers ALTER COLUMN note SET NOT NULL;
