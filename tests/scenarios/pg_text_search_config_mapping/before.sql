CREATE TEXT SEARCH DICTIONARY public.my_stem (TEMPLATE = snowball, language = english, stopwords = english);
CREATE TEXT SEARCH CONFIGURATION public.my_cfg (COPY = pg_catalog.english);
