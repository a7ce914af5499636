CREATE OPERATOR public.=== (LEFTARG = integer, RIGHTARG = text, FUNCTION = public.int_eq_text,
  RESTRICT = eqsel, JOIN = eqjoinsel);
