GRANT {{prefix}}reporting TO {{prefix}}app WITH ADMIN OPTION;
