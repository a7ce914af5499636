CREATE SERVER reporting_db FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host 'reporting.internal', dbname 'rep');
CREATE USER MAPPING FOR {{prefix}}app SERVER reporting_db OPTIONS (user 'rep', password 'Fdw-Secret-1');
