CREATE TABLE `catalog_meta` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL
);
--> statement-breakpoint
ALTER TABLE `kernels` ADD `pointer_size` integer;--> statement-breakpoint
ALTER TABLE `kernels` ADD `byte_order` text;