CREATE TABLE public.log (msg text);
