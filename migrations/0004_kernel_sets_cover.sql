DROP INDEX `kernel_sets_bucket`;--> statement-breakpoint
CREATE INDEX `kernel_sets_bucket_cover` ON `kernel_sets` (`bucket`,`set_id`,`kernel_id`);