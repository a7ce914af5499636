ALTER ROLE {{prefix}}analyst RENAME TO {{prefix}}data_analyst;
