CREATE TABLE public.orders (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, qty int NOT NULL);
CREATE MATERIALIZED VIEW public.order_totals AS SELECT count(*) AS n FROM public.orders;
CREATE SEQUENCE public.invoice_no;
INSERT INTO public.orders (qty) SELECT g FROM generate_series(1, 100) g;
CREATE STATISTICS public.orders_stats (ndistinct) ON id, qty FROM public.orders;
ALTER TABLE public.orders ALTER COLUMN qty SET STATISTICS 300;
ALTER TABLE public.orders ALTER COLUMN id SET INCREMENT BY 5;
ALTER TABLE public.orders REPLICA IDENTITY FULL;
