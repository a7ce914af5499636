INSERT INTO customers (email) VALUES ('a@example.com');
INSERT INTO orders (customer_id, qty) VALUES (1, 12);
ANALYZE;
VACUUM;
