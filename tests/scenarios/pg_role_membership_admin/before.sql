CREATE ROLE {{prefix}}app LOGIN;
CREATE ROLE {{prefix}}reporting;
GRANT {{prefix}}reporting TO {{prefix}}app;
