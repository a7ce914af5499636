DROP INDEX public.customers_email_idx;
