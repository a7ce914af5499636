CREATE TABLE public.customers (id bigint PRIMARY KEY, email text NOT NULL, note text);
CREATE ROLE {{prefix}}reporting;
CREATE ROLE {{prefix}}app;
