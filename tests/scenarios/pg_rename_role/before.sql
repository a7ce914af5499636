CREATE ROLE {{prefix}}staff;
CREATE ROLE {{prefix}}analyst LOGIN IN ROLE {{prefix}}staff;
CREATE TABLE reports (id int PRIMARY KEY, body text);
ALTER TABLE reports OWNER TO {{prefix}}analyst;
GRANT SELECT ON reports TO {{prefix}}staff;
ALTER TABLE reports ENABLE ROW LEVEL SECURITY;
CREATE POLICY reports_read ON reports FOR SELECT TO {{prefix}}analyst USING (true);
