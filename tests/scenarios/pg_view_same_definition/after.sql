DROP VIEW public.big_orders;
CREATE VIEW public.big_orders AS
    SELECT o.id,
           o.qty
      FROM public.orders o
     WHERE o.qty > 10;
