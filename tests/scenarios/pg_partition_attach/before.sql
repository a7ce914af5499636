CREATE TABLE public.events (id bigint NOT NULL, created date NOT NULL) PARTITION BY RANGE (created);
CREATE TABLE public.events_2025 PARTITION OF public.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE public.events_2026 (id bigint NOT NULL, created date NOT NULL);
