ALTER TYPE public.mood ADD VALUE 'ok' BEFORE 'happy';
