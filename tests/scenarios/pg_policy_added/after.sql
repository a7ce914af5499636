CREATE POLICY own_rows ON public.customers FOR SELECT TO {{prefix}}reporting USING (email = current_user);
