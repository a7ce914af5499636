CREATE TABLE customers (id int PRIMARY KEY, email text);
CREATE TABLE invoices (id int PRIMARY KEY, amount numeric);
