INSERT INTO customers (email) VALUES ('a@example.com'), ('b@example.com');
INSERT INTO orders VALUES (1, 1, 12);
ALTER TABLE customers AUTO_INCREMENT = 1000;
ANALYZE TABLE customers;
OPTIMIZE TABLE orders;
