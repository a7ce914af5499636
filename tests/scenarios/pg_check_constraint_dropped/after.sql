ALTER TABLE public.orders DROP CONSTRAINT qty_positive;
