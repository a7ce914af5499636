ALTER DATABASE `{{db}}` COLLATE utf8mb4_general_ci;
