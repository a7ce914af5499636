ALTER FUNCTION public.add(int, int) SET search_path = public, pg_temp;
