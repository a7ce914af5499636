ALTER INDEX accounts_owner RENAME TO accounts_owner_name_idx;
ALTER TABLE accounts RENAME CONSTRAINT balance_positive TO balance_not_negative;
