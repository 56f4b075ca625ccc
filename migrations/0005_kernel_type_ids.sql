CREATE TABLE `kernel_type_ids` (
	`kernel_id` integer PRIMARY KEY NOT NULL,
	`list_id` integer NOT NULL,
	FOREIGN KEY (`kernel_id`) REFERENCES `kernels`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`list_id`) REFERENCES `type_id_lists`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `type_id_lists` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`hash` blob NOT NULL,
	`ids` blob NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `type_id_lists_hash` ON `type_id_lists` (`hash`);