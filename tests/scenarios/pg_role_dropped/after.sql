DROP ROLE {{prefix}}old;
