import { parseDeb822 } from './deb822.js';
import { SyncError, SyncErrorCode } from './errors.js';
import { toPackageRecord, type PackageRecord } from './kernels.js';

const NEEDLE = Buffer.from('Package: linux-', 'latin1');
const SEPARATOR = Buffer.from('\n\n', 'latin1');

/** Names worth parsing: kernel images, split binaries and modules (selection decides the rest). */
const KERNEL_NAME = /^linux-(?:image|binary|modules)-/;

/**
 * Finds the stanzas of kernel packages in a Packages index fed chunk by chunk, without decoding the rest:
 * a real index is 50–70 MB of text of which a few hundred stanzas matter. Only stanzas with a line
 * `Package: linux-…` are parsed (the spelling every archive generator writes: dak, reprepro, aptly,
 * apt-ftparchive); a stanza is the text between blank lines around that line.
 */
export class KernelStanzaScanner {
  private carry: Buffer = Buffer.alloc(0);
  private readonly out: PackageRecord[] = [];
  /** Stanzas that matched the needle, kernel or not (for tests and figures). */
  parsed = 0;

  constructor(
    private readonly source: string,
    /** A single stanza longer than this is refused (a Packages stanza is a few KB). */
    private readonly maxStanzaBytes = 1 << 20,
  ) {}

  /** Feeds the next piece of decompressed text. */
  push(chunk: Uint8Array): void {
    const buf = this.carry.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.carry, chunk]);
    const last = buf.lastIndexOf(SEPARATOR);
    if (last < 0) {
      if (buf.length > this.maxStanzaBytes) throw this.tooLong();
      this.carry = this.carry.length === 0 ? Buffer.from(buf) : buf; // own the bytes: `chunk` may be reused by its producer
      return;
    }
    this.scan(buf.subarray(0, last + 1));
    // Copy the tail so the big buffer can go.
    this.carry = Buffer.from(buf.subarray(last + 2));
    if (this.carry.length > this.maxStanzaBytes) throw this.tooLong();
  }

  /** Ends the input and returns the records of every kernel-package stanza. */
  end(): PackageRecord[] {
    if (this.carry.length > 0) this.scan(this.carry);
    this.carry = Buffer.alloc(0);
    return this.out;
  }

  /** Scans whole stanzas (`region` ends at a stanza boundary). */
  private scan(region: Buffer): void {
    let from = 0;
    for (;;) {
      const hit = region.indexOf(NEEDLE, from);
      if (hit < 0) return;
      if (hit > 0 && region[hit - 1] !== 0x0a) {
        from = hit + 1;
        continue;
      }
      const before = hit === 0 ? -1 : region.lastIndexOf(SEPARATOR, hit - 1);
      const start = before < 0 ? 0 : before + 2;
      const after = region.indexOf(SEPARATOR, hit);
      const end = after < 0 ? region.length : after + 1;
      this.parsed++;
      for (const stanza of parseDeb822(region.toString('utf8', start, end), { source: this.source })) {
        const rec = toPackageRecord(stanza);
        if (rec !== undefined && KERNEL_NAME.test(rec.package)) this.out.push(rec);
      }
      from = end;
    }
  }

  private tooLong(): SyncError {
    return new SyncError(SyncErrorCode.BadIndex, `${this.source} has a stanza longer than ${this.maxStanzaBytes} bytes`);
  }
}
