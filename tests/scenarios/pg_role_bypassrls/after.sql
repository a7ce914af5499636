ALTER ROLE {{prefix}}app BYPASSRLS;
