CREATE SCHEMA archive;
CREATE TABLE events (id serial PRIMARY KEY, payload jsonb);
