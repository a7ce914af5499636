ALTER OPERATOR FAMILY public.abs_ops USING btree ADD OPERATOR 3 public.=#= (integer, integer);
