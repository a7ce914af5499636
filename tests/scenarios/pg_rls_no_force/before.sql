CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
ALTER TABLE public.customers ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.customers FORCE ROW LEVEL SECURITY;
