CREATE CAST (public.mood AS integer) WITH FUNCTION public.mood_to_int(public.mood) AS ASSIGNMENT;
