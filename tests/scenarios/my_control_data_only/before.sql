CREATE TABLE customers (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    email VARCHAR(200) NOT NULL,
    note VARCHAR(50) DEFAULT 'none',
    UNIQUE KEY uq_email (email)
) ENGINE=InnoDB;
CREATE TABLE orders (
    id INT NOT NULL PRIMARY KEY,
    customer_id BIGINT UNSIGNED,
    qty INT,
    CONSTRAINT fk_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB;
CREATE VIEW big_orders AS SELECT id, qty FROM orders WHERE qty > 10;
CREATE USER '{{prefix}}app'@'%' IDENTIFIED BY 'App-Pass-1234';
CREATE ROLE {{prefix}}reader;
CREATE SEQUENCE invoice_no START WITH 100;
CREATE PROCEDURE touch_orders() SQL SECURITY INVOKER UPDATE orders SET qty = qty + 0;
CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM orders WHERE qty = 0;
