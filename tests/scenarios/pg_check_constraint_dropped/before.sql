CREATE TABLE public.orders (id bigint PRIMARY KEY, qty int CONSTRAINT qty_positive CHECK (qty > 0));
