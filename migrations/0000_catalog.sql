CREATE TABLE `ingest_failures` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`source` text NOT NULL,
	`kref` text,
	`code` text NOT NULL,
	`message` text NOT NULL,
	`job_id` text,
	`failed_at` text DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')) NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ingest_failures_source` ON `ingest_failures` (`source`);--> statement-breakpoint
CREATE TABLE `kernel_sets` (
	`kernel_id` integer NOT NULL,
	`bucket` integer NOT NULL,
	`set_id` integer NOT NULL,
	PRIMARY KEY(`kernel_id`, `bucket`),
	FOREIGN KEY (`kernel_id`) REFERENCES `kernels`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`set_id`) REFERENCES `shape_sets`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `kernel_sets_bucket` ON `kernel_sets` (`bucket`,`set_id`);--> statement-breakpoint
CREATE TABLE `kernels` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`distro` text NOT NULL,
	`release` text NOT NULL,
	`arch` text NOT NULL,
	`uname_r` text NOT NULL,
	`version_key` text NOT NULL,
	`flavour` text NOT NULL,
	`btf_sha256` text NOT NULL,
	`btf_size` integer NOT NULL,
	`type_count` integer NOT NULL,
	`source_sha256` text NOT NULL,
	`source_size` integer NOT NULL,
	`source_format` text NOT NULL,
	`source` text NOT NULL,
	`ingested_at` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `kernels_kref` ON `kernels` (`distro`,`release`,`arch`,`uname_r`);--> statement-breakpoint
CREATE INDEX `kernels_order` ON `kernels` (`distro`,`release`,`arch`,`version_key`);--> statement-breakpoint
CREATE TABLE `module_names` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `module_names_name` ON `module_names` (`name`);--> statement-breakpoint
CREATE TABLE `modules` (
	`kernel_id` integer NOT NULL,
	`name` text NOT NULL,
	`btf_sha256` text NOT NULL,
	`btf_size` integer NOT NULL,
	`type_count` integer NOT NULL,
	`source_sha256` text,
	PRIMARY KEY(`kernel_id`, `name`),
	FOREIGN KEY (`kernel_id`) REFERENCES `kernels`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `shape_sets` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`hash` blob NOT NULL,
	`bucket` integer NOT NULL,
	`count` integer NOT NULL,
	`members` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `shape_sets_hash` ON `shape_sets` (`hash`);--> statement-breakpoint
CREATE TABLE `shapes` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`hash` blob NOT NULL,
	`kind` text NOT NULL,
	`name` text NOT NULL,
	`size` integer NOT NULL,
	`body` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `shapes_hash` ON `shapes` (`hash`);--> statement-breakpoint
CREATE INDEX `shapes_name` ON `shapes` (`name`);