CREATE TABLE public.t (x int);
