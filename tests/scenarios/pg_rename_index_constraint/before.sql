CREATE TABLE accounts (id int PRIMARY KEY, balance numeric CONSTRAINT balance_positive CHECK (balance >= 0), owner_name text);
CREATE INDEX accounts_owner ON accounts (owner_name);
