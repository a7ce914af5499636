CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(200), KEY ix_email (email)) ENGINE=InnoDB;
