CREATE TEXT SEARCH DICTIONARY public.my_stem (TEMPLATE = snowball, language = english, stopwords = english);
