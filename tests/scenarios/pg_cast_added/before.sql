CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE FUNCTION public.mood_to_int(public.mood) RETURNS integer LANGUAGE sql IMMUTABLE
  AS $$ SELECT array_position(enum_range(NULL::public.mood), $1) $$;
