CREATE RULE log_delete AS ON DELETE TO public.customers DO ALSO INSERT INTO public.customers_log VALUES (OLD.id);
