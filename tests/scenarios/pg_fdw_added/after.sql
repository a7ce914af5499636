CREATE FOREIGN DATA WRAPPER {{prefix}}fdw OPTIONS (debug 'true', secret 'Fdw-Wrapper-Secret-1');
