GRANT SELECT (email) ON `{{db}}`.customers TO '{{prefix}}app'@'%';
