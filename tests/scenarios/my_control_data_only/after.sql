INSERT INTO customers (email) VALUES ('a@example.com'), ('b@example.com');
INSERT INTO orders VALUES (1, 1, 12);
ALTER TABLE customers AUTO_INCREMENT = 1000;
ANALYZE TABLE customers;
OPTIMIZE TABLE orders;
SELECT NEXTVAL(invoice_no);
SELECT SETVAL(invoice_no, 500);
CALL touch_orders();
