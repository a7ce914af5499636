DROP FUNCTION public.add(int, int);
