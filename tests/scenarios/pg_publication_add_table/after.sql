ALTER PUBLICATION out ADD TABLE public.customers;
