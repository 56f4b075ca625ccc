CREATE TABLE `enumerators` (
	`name` text NOT NULL,
	`shape_id` integer NOT NULL,
	PRIMARY KEY(`name`, `shape_id`),
	FOREIGN KEY (`shape_id`) REFERENCES `shapes`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `names` (
	`name` text NOT NULL,
	`kind` text NOT NULL,
	PRIMARY KEY(`name`, `kind`)
);
--> statement-breakpoint
CREATE INDEX `names_nocase` ON `names` ("name" COLLATE NOCASE,`kind`);