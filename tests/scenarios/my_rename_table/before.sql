CREATE TABLE orders (id INT PRIMARY KEY, qty INT, KEY ix_qty (qty)) ENGINE=InnoDB;
