CREATE ACCESS METHOD heap2 TYPE TABLE HANDLER heap_tableam_handler;
ALTER TABLE public.customers SET ACCESS METHOD heap2;
