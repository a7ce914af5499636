CREATE UNIQUE INDEX order_ids_id ON public.order_ids (id);
