CREATE SEQUENCE public.invoice_no;
