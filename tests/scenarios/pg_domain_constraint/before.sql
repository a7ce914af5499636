CREATE DOMAIN public.qty AS integer NOT NULL;
