CREATE TABLE public.items (id bigint NOT NULL, qty int);
CREATE TABLE public.special_items (note text) INHERITS (public.items);
