ALTER TEXT SEARCH CONFIGURATION public.my_cfg ALTER MAPPING FOR asciiword WITH public.my_stem, simple;
