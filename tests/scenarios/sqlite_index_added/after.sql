CREATE INDEX ix_orders_qty ON orders (qty) WHERE qty > 1;
