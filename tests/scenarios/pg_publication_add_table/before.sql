CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE TABLE public.orders (id bigint PRIMARY KEY);
CREATE PUBLICATION out FOR TABLE public.orders;
