CREATE TABLE a_tmp (id int);
CREATE TABLE b_tmp (id int);
