ALTER TEXT SEARCH DICTIONARY public.my_stem (StopWords = russian);
