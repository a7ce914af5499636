ALTER POLICY own_rows ON public.customers TO PUBLIC USING (true);
