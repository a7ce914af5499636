ALTER ROLE {{prefix}}app SUPERUSER;
