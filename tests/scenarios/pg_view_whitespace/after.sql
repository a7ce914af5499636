DROP VIEW public.big_orders;
CREATE VIEW public.big_orders AS
    SELECT   id,
             qty
      FROM   public.orders
     WHERE   qty > 10;
