CREATE TABLE public.orders (id bigint PRIMARY KEY, qty int NOT NULL);
CREATE VIEW public.big_orders AS SELECT id, qty FROM public.orders WHERE qty > 10;
