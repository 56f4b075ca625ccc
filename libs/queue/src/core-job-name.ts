import { createHash } from 'node:crypto';

/** The queue name of the CO-RE dry-run job (its own module: naming it does not load the dry run). */
export const CORE_CHECK_JOB = 'core-check';

/**
 * The job id of a dry run: `core-` + the object's sha256 + `-` + 16 hex digits of the selection's key. The same
 * object over the same selection is one job while the queue keeps it, and the id is its key: only who has the
 * object (or was told the id) can name it, so `GET /v1/jobs/{id}` shows it without the admin token.
 */
export function coreJobId(objectSha256: string, selectionKey: string): string {
  return `core-${objectSha256}-${createHash('sha256').update(selectionKey).digest('hex').slice(0, 16)}`;
}

/** Whether a job id is a dry run's ({@link coreJobId}). */
export function isCoreJobId(id: string): boolean {
  return /^core-[0-9a-f]{64}-[0-9a-f]{16}$/.test(id);
}
