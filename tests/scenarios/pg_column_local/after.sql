ALTER TABLE public.child NO INHERIT public.base;
ALTER TABLE public.child INHERIT public.base;
