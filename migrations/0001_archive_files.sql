ALTER TABLE `kernels` ADD `archive_sha256` text;--> statement-breakpoint
ALTER TABLE `kernels` ADD `archive_size` integer;