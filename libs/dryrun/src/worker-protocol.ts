/**
 * What the main thread and a dry-run worker thread (check-worker.ts) say to each other, and how errors cross:
 * the coded errors of libs/core, libs/catalog, libs/btf and libs/dryrun are sent as plain objects and made again
 * on the other side with the same class, code and message, so callers (the HTTP error mapping) see no difference
 * from an in-process run.
 */
import { BtfError, type BtfErrorCode } from '@btf-atlas/btf/core';
import { CatalogError, type CatalogErrorCode } from '@btf-atlas/catalog/read';
import { CoreError, type CoreErrorCode } from '@btf-atlas/core';
import { DryRunError, type DryRunErrorCode } from './errors.js';
import type { BpfObjectInput } from './object-input.js';
import type { KernelSelection } from './selection.js';
import type { DryRunProgress } from './check.js';

/** The job of one worker. */
export interface WorkerTask {
  task: 'check' | 'min-btf';
  dbPath: string;
  inputs: BpfObjectInput[];
  selection: KernelSelection;
  modules?: boolean;
  skipFailed?: boolean;
}

/** A coded error as a plain object. */
export interface SentError {
  name: string;
  code?: string;
  message: string;
  /** CoreError: the message without its location, and the location. */
  reason?: string;
  section?: string;
  offset?: number;
  typeId?: number;
  source?: string;
  suggestions?: string[];
}

export type WorkerMessage =
  | { kind: 'progress'; progress: DryRunProgress }
  | { kind: 'done'; result: unknown }
  | { kind: 'error'; error: SentError };

/** An error as a plain object (fields of the classes the dry run raises; anything else by name and message). */
export function sendError(err: unknown): SentError {
  if (err instanceof CoreError) {
    return { name: err.name, code: err.code, message: err.message, reason: err.reason, section: err.section, offset: err.offset, typeId: err.typeId, source: err.source };
  }
  if (err instanceof CatalogError) return { name: err.name, code: err.code, message: err.message, suggestions: err.suggestions };
  if (err instanceof BtfError || err instanceof DryRunError) return { name: err.name, code: err.code, message: err.message };
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: 'Error', message: String(err) };
}

/** The error again, of its class where it had one of ours. */
export function receiveError(e: SentError): Error {
  switch (e.name) {
    case 'CoreError':
      return new CoreError(e.code as CoreErrorCode, e.reason ?? e.message, { section: e.section, offset: e.offset, typeId: e.typeId, source: e.source });
    case 'CatalogError':
      return new CatalogError(e.code as CatalogErrorCode, e.message, e.suggestions ?? []);
    case 'DryRunError':
      return new DryRunError(e.code as DryRunErrorCode, e.message);
    case 'BtfError': {
      // The message already holds the location; the copy keeps the code for callers that match on it.
      const err = new Error(e.message) as Error & { code: BtfErrorCode };
      Object.defineProperty(err, 'name', { value: 'BtfError' });
      err.code = e.code as BtfErrorCode;
      return err;
    }
    default: {
      const err = new Error(e.message);
      err.name = e.name;
      return err;
    }
  }
}
