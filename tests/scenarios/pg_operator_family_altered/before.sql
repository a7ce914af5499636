CREATE FUNCTION public.abs_cmp(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE
  AS $$ SELECT btint4cmp(abs($1), abs($2)) $$;
CREATE FUNCTION public.abs_lt(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT abs($1) < abs($2) $$;
CREATE FUNCTION public.abs_eq(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT abs($1) = abs($2) $$;
CREATE OPERATOR public.<<< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.abs_lt);
CREATE OPERATOR public.=#= (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.abs_eq);
CREATE OPERATOR CLASS public.abs_ops FOR TYPE integer USING btree AS
  OPERATOR 1 public.<<<, FUNCTION 1 public.abs_cmp(integer, integer);
