CREATE USER '{{prefix}}ops'@'10.%' IDENTIFIED BY 'Ops-Pass-5678';
