COMMENT ON DATABASE {{db}} IS 'scenario database';
