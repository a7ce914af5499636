CREATE TABLE public.items (id bigint NOT NULL, qty int);
CREATE TABLE public.special_items (id bigint NOT NULL, qty int, note text);
