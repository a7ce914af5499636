CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric CHECK (total >= 0));
CREATE INDEX orders_customer ON orders (customer);
CREATE FUNCTION orders_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION orders_touch();
CREATE VIEW big_orders AS SELECT id, total FROM orders WHERE total > 100;
CREATE TABLE order_lines (id int PRIMARY KEY, order_id int REFERENCES orders (id));
