CREATE OPERATOR CLASS public.abs_ops FOR TYPE integer USING btree AS
  OPERATOR 1 public.<<<, FUNCTION 1 public.abs_cmp(integer, integer);
