-- What happened out of band after the baseline was committed (a 2 a.m. hotfix).
ALTER TABLE customers ADD COLUMN phone TEXT;
DROP INDEX ix_orders_placed_at;
CREATE INDEX ix_orders_status ON orders (status);
DROP TRIGGER orders_no_delete_shipped;
CREATE TABLE tmp_export AS SELECT id, email FROM customers;
