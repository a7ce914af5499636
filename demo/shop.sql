-- The demo shop as its migrations left it: the state the baseline records.
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now'))
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    price_cents INTEGER NOT NULL CHECK (price_cents >= 0)
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'paid', 'shipped')),
    placed_at TEXT NOT NULL
);
CREATE TABLE order_lines (
    order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL REFERENCES products (id),
    qty INTEGER NOT NULL CHECK (qty > 0),
    PRIMARY KEY (order_id, product_id)
);
CREATE INDEX ix_orders_customer ON orders (customer_id);
CREATE INDEX ix_orders_placed_at ON orders (placed_at);
CREATE VIEW order_totals AS
    SELECT o.id AS order_id, SUM(l.qty * p.price_cents) AS total_cents
    FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN products p ON p.id = l.product_id
    GROUP BY o.id;
CREATE TRIGGER orders_no_delete_shipped BEFORE DELETE ON orders
    WHEN OLD.status = 'shipped'
    BEGIN SELECT RAISE(ABORT, 'shipped orders are kept'); END;
