CREATE PUBLICATION customers_out FOR TABLE public.customers WITH (publish = 'insert, update');
