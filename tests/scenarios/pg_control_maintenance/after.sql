ANALYZE public.orders;
VACUUM public.orders;
VACUUM FULL public.orders;
REINDEX TABLE public.orders;
CLUSTER public.orders USING orders_pkey;
