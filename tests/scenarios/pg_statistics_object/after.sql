CREATE STATISTICS public.customers_email_note (dependencies) ON email, note FROM public.customers;
