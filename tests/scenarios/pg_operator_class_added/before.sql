CREATE FUNCTION public.abs_cmp(integer, integer) RETURNS integer LANGUAGE sql IMMUTABLE
  AS $$ SELECT btint4cmp(abs($1), abs($2)) $$;
CREATE FUNCTION public.abs_lt(integer, integer) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT abs($1) < abs($2) $$;
CREATE OPERATOR public.<<< (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.abs_lt);
