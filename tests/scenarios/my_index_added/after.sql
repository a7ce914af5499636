CREATE INDEX ix_qty ON orders (qty);
