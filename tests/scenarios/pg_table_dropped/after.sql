DROP TABLE public.scratch;
