CREATE ROLE {{prefix}}root SUPERUSER;
