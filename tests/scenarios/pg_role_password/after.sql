ALTER ROLE {{prefix}}app PASSWORD 'N3w-Secret-pw';
