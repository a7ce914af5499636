CREATE INDEX events_created_idx ON ONLY public.events (created);
