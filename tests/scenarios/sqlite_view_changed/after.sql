DROP VIEW big_orders;
CREATE VIEW big_orders AS SELECT id, qty FROM orders WHERE qty > 20;
