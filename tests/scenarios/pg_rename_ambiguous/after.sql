DROP TABLE a_tmp;
DROP TABLE b_tmp;
CREATE TABLE c_tmp (id int);
CREATE TABLE d_tmp (id int);
