CREATE INDEX customers_email_idx ON public.customers (email);
