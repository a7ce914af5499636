CREATE AGGREGATE public.total(int) (SFUNC = public.add, STYPE = int, INITCOND = '0');
