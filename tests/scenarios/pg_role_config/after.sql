ALTER ROLE {{prefix}}app SET statement_timeout = '5s';
