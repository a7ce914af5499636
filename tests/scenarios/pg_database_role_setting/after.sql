ALTER ROLE {{prefix}}app IN DATABASE {{db}} SET statement_timeout = '30s';
