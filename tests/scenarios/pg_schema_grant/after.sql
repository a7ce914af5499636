GRANT USAGE ON SCHEMA app TO {{prefix}}reporting;
COMMENT ON SCHEMA app IS 'application tables';
