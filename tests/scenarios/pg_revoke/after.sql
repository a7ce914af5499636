REVOKE SELECT ON public.customers FROM {{prefix}}reporting;
