COMMENT ON ROLE {{prefix}}app IS 'the application';
