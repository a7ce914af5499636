CREATE SCHEMA billing;
CREATE TABLE billing.invoices (id int PRIMARY KEY, amount numeric);
CREATE VIEW billing.open_invoices AS SELECT id FROM billing.invoices WHERE amount > 0;
CREATE FUNCTION billing.total() RETURNS numeric LANGUAGE sql AS 'SELECT 1::numeric';
