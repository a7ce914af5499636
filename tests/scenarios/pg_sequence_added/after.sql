CREATE SEQUENCE public.orders_n_seq AS integer START 100 OWNED BY public.orders.n;
