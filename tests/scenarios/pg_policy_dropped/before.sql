CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE ROLE {{prefix}}reporting;
ALTER TABLE public.customers ENABLE ROW LEVEL SECURITY;

CREATE POLICY own_rows ON public.customers FOR SELECT TO {{prefix}}reporting USING (email = current_user);
