GRANT {{prefix}}reporting TO {{prefix}}app;
