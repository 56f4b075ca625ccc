import { expect } from 'vitest';
import { CatalogError } from '@btf-atlas/catalog/read';

/** Throws are answers too: the error's code and message. */
export function answer<T>(f: () => T): T | { error: string } {
  try {
    return f();
  } catch (err) {
    return { error: `${(err as { code?: string }).code}: ${(err as Error).message}` };
  }
}

/** Drops the keys that tell when something happened (ingest and failure times), not what the catalog holds. */
export function timeless(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (k, v: unknown) => (k === 'failed_at' || k === 'ingestedAt' ? undefined : v)));
}

/** Compares two answer sets key by key, so a failure names the first question answered differently. */
export function expectSameAnswers(got: Record<string, unknown>, want: Record<string, unknown>): void {
  expect(Object.keys(got)).toEqual(Object.keys(want));
  for (const key of Object.keys(want)) expect({ [key]: got[key] }).toEqual({ [key]: want[key] });
}

/** The CatalogError a call throws. */
export function thrown(fn: () => unknown): CatalogError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CatalogError);
    return err as CatalogError;
  }
  throw new Error('expected a CatalogError');
}
