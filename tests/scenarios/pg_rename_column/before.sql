CREATE ROLE {{prefix}}support;
CREATE TABLE customers (id int PRIMARY KEY, email text UNIQUE, note text);
CREATE INDEX customers_email_lower ON customers (lower(email));
GRANT SELECT (email) ON customers TO {{prefix}}support;
