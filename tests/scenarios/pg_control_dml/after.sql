INSERT INTO public.customers (email) VALUES ('a@example.com'), ('b@example.com');
UPDATE public.customers SET email = 'c@example.com' WHERE id = 1;
DELETE FROM public.customers WHERE id = 2;
SELECT nextval('public.invoice_no');
SELECT setval('public.invoice_no', 500);
