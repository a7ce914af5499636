GRANT {{prefix}}reader TO '{{prefix}}app'@'%';
