CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE INDEX customers_email_idx ON public.customers (email);
