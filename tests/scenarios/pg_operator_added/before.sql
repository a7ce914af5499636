CREATE FUNCTION public.int_eq_text(integer, text) RETURNS boolean LANGUAGE sql IMMUTABLE
  AS $$ SELECT $1::text = $2 $$;
