CREATE TYPE public.address AS (street text, city text);
