CREATE TRIGGER trg_orders AFTER INSERT ON orders BEGIN UPDATE customers SET note = 'ordered' WHERE id = NEW.customer_id; END;
