REVOKE SELECT (note) ON public.customers FROM {{prefix}}reporting;
