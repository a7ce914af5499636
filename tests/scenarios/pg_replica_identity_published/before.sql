CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE PUBLICATION {{prefix}}out FOR TABLE public.customers;
