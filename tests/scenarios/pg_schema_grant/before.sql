CREATE ROLE {{prefix}}app;
CREATE ROLE {{prefix}}reporting;
CREATE SCHEMA app;
