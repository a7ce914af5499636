CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id bigint);
