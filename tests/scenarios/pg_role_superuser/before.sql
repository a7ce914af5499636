CREATE ROLE {{prefix}}app LOGIN;
CREATE ROLE {{prefix}}reporting;
