import { sql } from 'drizzle-orm';
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core';

/**
 * The catalog schema. Types are stored once per distinct layout ("shapes"), and kernels point at them through
 * content-addressed sets of shapes, one set per name bucket: kernels that share a bucket's shapes share its set
 * row, so a patch release that changes three structs adds three shapes, three sets and one row per bucket.
 *
 *   kernels ──< kernel_sets >── shape_sets ──(members: [shape id, module id, copies]…)──> shapes
 *
 * A set's members are one packed JSON column, not a row each: a release that touches many buckets (hundreds of
 * changed funcs spread over them) then costs a few hundred bytes per changed bucket, not a row and an index entry
 * per member. A name's history across N kernels is: the shapes of that name (index on name), the N kernel_sets
 * rows of its bucket (index on bucket), and the few distinct sets among them.
 */
/** One ingested kernel (its vmlinux BTF, plus module BTF found with it). */
export const kernels = sqliteTable(
  'kernels',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    distro: text('distro').notNull(),
    release: text('release').notNull(),
    arch: text('arch').notNull(),
    unameR: text('uname_r').notNull(),
    /** Sorts as the contract's kernel order: version numbers compared part by part. */
    versionKey: text('version_key').notNull(),
    /** What follows the version numbers in uname -r (`amd64`, `cloud-arm64`, `generic`…), '' when none. */
    flavour: text('flavour').notNull(),
    /** sha256 of the raw vmlinux BTF. */
    btfSha256: text('btf_sha256').notNull(),
    btfSize: integer('btf_size').notNull(),
    typeCount: integer('type_count').notNull(),
    /** sha256 of the original input bytes as ingested (the archive file), kept in the blob store. */
    sourceSha256: text('source_sha256').notNull(),
    sourceSize: integer('source_size').notNull(),
    /** The input's container chain, e.g. `xz/tar/btf`. */
    sourceFormat: text('source_format').notNull(),
    /** Where it came from (a path relative to the scanned root, or a file name). */
    source: text('source').notNull(),
    ingestedAt: text('ingested_at').notNull(),
    /**
     * sha256 and size of the kernel's btfhub-archive file (`UNAME_R.btf.tar.xz`), kept in the blob store: the
     * source itself when it was ingested from one, else a reproducible tarball of the raw BTF (libs/catalog
     * archive.ts). Null in catalogs made before the archive mirror: filled on first request.
     */
    archiveSha256: text('archive_sha256'),
    archiveSize: integer('archive_size'),
    /**
     * The kernel's pointer size (and size of `long`) in bytes, 4 or 8, and its byte order, read from its own
     * vmlinux BTF at ingest (libs/btf layout.ts `pointerSize`, the header's magic), never guessed from the arch
     * name. Null in catalogs made before they were recorded: filled from the kernel's stored BTF by
     * `fillKernelLayouts` (ingest.ts), which every ingest runs first.
     */
    pointerSize: integer('pointer_size'),
    byteOrder: text('byte_order', { enum: ['little', 'big'] }),
  },
  (t) => [
    uniqueIndex('kernels_kref').on(t.distro, t.release, t.arch, t.unameR),
    index('kernels_order').on(t.distro, t.release, t.arch, t.versionKey),
  ],
);

/** Module BTF ingested with a kernel. */
export const modules = sqliteTable(
  'modules',
  {
    kernelId: integer('kernel_id').notNull().references(() => kernels.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    btfSha256: text('btf_sha256').notNull(),
    btfSize: integer('btf_size').notNull(),
    typeCount: integer('type_count').notNull(),
    /** Set when the module came as its own file (`modules/NAME.btf`); null when it was inside the kernel's tarball. */
    sourceSha256: text('source_sha256'),
  },
  (t) => [primaryKey({ columns: [t.kernelId, t.name] })],
);

/** One distinct layout of a named struct, union, enum, typedef or func. */
export const shapes = sqliteTable(
  'shapes',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    /** First 16 bytes of sha256 over the canonical body (kind, name, size, members…). */
    hash: blob('hash', { mode: 'buffer' }).notNull(),
    kind: text('kind', { enum: ['struct', 'union', 'enum', 'typedef', 'func'] }).notNull(),
    name: text('name').notNull(),
    size: integer('size').notNull(),
    /** JSON: flattened members (struct/union), values (enum), target (typedef), signature (func). */
    body: text('body').notNull(),
  },
  (t) => [uniqueIndex('shapes_hash').on(t.hash), index('shapes_name').on(t.name)],
);

/** A content-addressed set of the shapes of one name bucket in a kernel (with its modules). */
export const shapeSets = sqliteTable(
  'shape_sets',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    hash: blob('hash', { mode: 'buffer' }).notNull(),
    bucket: integer('bucket').notNull(),
    count: integer('count').notNull(),
    /**
     * JSON `[[shapeId, moduleId, copies], …]` sorted by shape id: moduleId 0 is vmlinux, others index
     * module_names; copies counts identical definitions of one name (BTF may define a name twice).
     */
    members: text('members').notNull(),
  },
  (t) => [uniqueIndex('shape_sets_hash').on(t.hash)],
);

/** Module names, numbered for set members (0, vmlinux, is not stored). */
export const moduleNames = sqliteTable(
  'module_names',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
  },
  (t) => [uniqueIndex('module_names_name').on(t.name)],
);

/**
 * Which set each kernel has in each bucket. The index on (bucket, set_id, kernel_id) covers the reads by bucket
 * (every kernel's set of one name bucket, what a history or a dry run's grouping reads): no table lookup per row.
 */
export const kernelSets = sqliteTable(
  'kernel_sets',
  {
    kernelId: integer('kernel_id').notNull().references(() => kernels.id, { onDelete: 'cascade' }),
    bucket: integer('bucket').notNull(),
    setId: integer('set_id').notNull().references(() => shapeSets.id),
  },
  (t) => [primaryKey({ columns: [t.kernelId, t.bucket] }), index('kernel_sets_bucket_cover').on(t.bucket, t.setId, t.kernelId)],
);

/** Inputs that failed to ingest, with the reason (shown by the CLI and API). */
export const ingestFailures = sqliteTable(
  'ingest_failures',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    source: text('source').notNull(),
    /** The kernel it would have been, when the path told. */
    kref: text('kref'),
    code: text('code').notNull(),
    message: text('message').notNull(),
    jobId: text('job_id'),
    failedAt: text('failed_at').notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [index('ingest_failures_source').on(t.source)],
);

/**
 * What made the catalog, one row per key: `schema_version` (how many migrations of migrations/ it has applied)
 * and `normalizer_version` (the version of the code that turned BTF into stored shape bodies,
 * `NORMALIZER_VERSION` in db.ts). A catalog whose shapes another normalizer made refuses writes
 * (CATALOG_NEEDS_REINDEX) rather than mixing two kinds of bodies; reads keep working.
 */
export const catalogMeta = sqliteTable('catalog_meta', {
  key: text('key').primaryKey(),
  value: text('value').notNull(),
});

/**
 * The search index of names (derived from shapes, written by `indexNewShapes` in shape-index.ts when a shape is
 * first inserted; never deleted, so it holds every name any kernel ever had): one row per name and kind, where
 * kind is a shape kind (`struct`, `union`, `enum`, `typedef`, `func`), `kfunc` (a func a `bpf_kfunc` decl tag
 * marks), `tracepoint` (NAME of `typedef btf_trace_NAME`), `syscall` (NAME of `__x64_sys_NAME` and the other
 * wrappers, kind-names.ts) or `enumerator` (an enum value's name). `names_nocase` serves case-insensitive prefixes.
 */
export const names = sqliteTable(
  'names',
  {
    name: text('name').notNull(),
    kind: text('kind', { enum: ['struct', 'union', 'enum', 'typedef', 'func', 'kfunc', 'tracepoint', 'syscall', 'enumerator'] }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.kind] }), index('names_nocase').on(sql`${t.name} COLLATE NOCASE`, t.kind)],
);

/**
 * Enumerator name → the enum shapes (named and anonymous, ENUM and ENUM64) that hold it: derived like
 * {@link names}, so an enumerator's history reads a few shapes instead of every enum.
 */
export const enumerators = sqliteTable(
  'enumerators',
  {
    name: text('name').notNull(),
    shapeId: integer('shape_id').notNull().references(() => shapes.id),
  },
  (t) => [primaryKey({ columns: [t.name, t.shapeId] })],
);

/**
 * Lists of vmlinux type ids (of named structs, unions, enums and typedefs) in the compact form of type-ids.ts,
 * about 4 bytes a type, stored once per content (`hash`: the first 16 bytes of its sha256), as shape sets are:
 * kernels of the very same BTF share one. What the CO-RE dry run reads instead of a kernel's BTF where libbpf's
 * decision is a type id (TYPE_ID_TARGET).
 */
export const typeIdLists = sqliteTable(
  'type_id_lists',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    hash: blob('hash', { mode: 'buffer' }).notNull(),
    ids: blob('ids', { mode: 'buffer' }).notNull(),
  },
  (t) => [uniqueIndex('type_id_lists_hash').on(t.hash)],
);

/**
 * Each kernel's list of {@link typeIdLists}. Written by ingest; a kernel ingested before has no row until it is
 * ingested again (the same bytes: skipped, and its row filled) or the catalog is reindexed.
 */
export const kernelTypeIds = sqliteTable('kernel_type_ids', {
  kernelId: integer('kernel_id').primaryKey().references(() => kernels.id, { onDelete: 'cascade' }),
  listId: integer('list_id').notNull().references(() => typeIdLists.id),
});
