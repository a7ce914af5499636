ALTER TABLE public.orders ALTER COLUMN id RESTART WITH 1000;
SELECT setval('public.invoice_no', 42);
TRUNCATE public.orders RESTART IDENTITY;
