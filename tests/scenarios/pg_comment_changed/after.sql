COMMENT ON TABLE public.customers IS 'people who buy';
COMMENT ON COLUMN public.customers.email IS 'login';
