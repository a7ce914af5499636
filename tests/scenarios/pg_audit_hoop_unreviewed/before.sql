CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE ROLE {{prefix}}app;
CREATE ROLE {{prefix}}reporting;
CREATE TABLE public.orders (id bigint PRIMARY KEY);
