ALTER TABLE public.items ADD CONSTRAINT qty_positive CHECK (qty > 0);
