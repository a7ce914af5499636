CREATE TABLE public.customers (id bigserial PRIMARY KEY, email text NOT NULL);
CREATE SEQUENCE public.invoice_no;
