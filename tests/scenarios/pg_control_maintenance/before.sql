CREATE TABLE public.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, qty int NOT NULL);
CREATE MATERIALIZED VIEW public.order_totals AS SELECT count(*) AS n FROM public.orders;
CREATE SEQUENCE public.invoice_no;
INSERT INTO public.orders (qty) SELECT g FROM generate_series(1, 100) g;
