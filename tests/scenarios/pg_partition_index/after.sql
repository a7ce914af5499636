CREATE INDEX events_created_idx ON public.events (created);
