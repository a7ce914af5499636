ALTER TABLE public.special_items INHERIT public.items;
