GRANT SELECT ON `{{db}}`.* TO {{prefix}}reader;
