CREATE TABLE public.base (id bigint, note text);
CREATE TABLE public.child () INHERITS (public.base);
