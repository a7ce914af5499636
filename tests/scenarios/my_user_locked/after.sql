ALTER USER '{{prefix}}app'@'%' ACCOUNT LOCK;
