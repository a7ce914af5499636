ALTER TABLE public.customers DISABLE TRIGGER customers_touch;
