GRANT SELECT, INSERT ON `{{db}}`.orders TO '{{prefix}}app'@'%';
