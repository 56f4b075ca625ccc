CREATE TABLE `kernel_type_ids` (
	`kernel_id` integer PRIMARY KEY NOT NULL,
	`ids` blob NOT NULL,
	FOREIGN KEY (`kernel_id`) REFERENCES `kernels`(`id`) ON UPDATE no action ON DELETE cascade
);
