ALTER DATABASE {{db}} SET work_mem = '8MB';
