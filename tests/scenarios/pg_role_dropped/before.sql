CREATE ROLE {{prefix}}app LOGIN;
CREATE ROLE {{prefix}}reporting;
CREATE ROLE {{prefix}}old;
