CREATE TABLE public.customers (id bigint PRIMARY KEY);
CREATE TABLE public.scratch (x int);
