CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
    CREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id bigint);
    ALTER TABLE public.orders ADD CONSTRAINT orders_customer_fk FOREIGN KEY (customer_id) REFERENCES public.customers (id) NOT VALID;
