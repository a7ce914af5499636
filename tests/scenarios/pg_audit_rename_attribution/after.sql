ALTER TABLE public.customers RENAME COLUMN email TO email_address;
ALTER TABLE public.invoices RENAME TO bills;
