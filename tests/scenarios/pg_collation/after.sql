CREATE COLLATION public.german (provider = icu, locale = 'de-DE');
