import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { buildApp } from '@btf-atlas/http';

/**
 * Issue 14: the Dockerfile and docker-compose.yml, checked without a Docker engine: the compose file is valid and
 * says what the stack needs (health checks, the catalog volume, two workers, start order), and every command they
 * run exists in the image's layout (the files they COPY, the CLI entry point and its subcommands, the health
 * check's route, answered by a real server). With a Docker client that has the compose plugin, `docker compose
 * config` validates the file too.
 */

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const CLI = join(REPO, 'apps/cli/bin/btf-atlas.js');
const TOKEN = 'compose-admin-token-0123';

interface Healthcheck {
  test?: string[] | string;
  disable?: boolean;
  interval?: string;
}

interface Service {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: Healthcheck;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  profiles?: string[];
}

interface ComposeFile {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
}

/** The compose file as `docker compose` reads it: YAML merge keys (`<<: *atlas`) applied, variables as written. */
const compose = parse(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;

/** `${NAME:-default}` and `${NAME:?message}` as compose substitutes them, with these variables set. */
function substitute(text: string, env: Record<string, string> = {}): string {
  return text.replace(/\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    if (env[name] !== undefined && env[name] !== '') return env[name];
    if (op === '-') return arg ?? '';
    throw new Error(`${name} is required: ${arg ?? ''}`);
  });
}

/** One Dockerfile instruction: its keyword, its flags (`--from=build`) and its arguments (JSON form or words). */
interface Instruction {
  keyword: string;
  flags: Record<string, string>;
  args: string[];
  raw: string;
}

/** The Dockerfile's instructions (comments dropped, `\` continuations joined), with the stage each is in. */
function dockerfile(): (Instruction & { stage: number })[] {
  const text = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
  const logical = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  const out: (Instruction & { stage: number })[] = [];
  let stage = -1;
  for (const line of logical.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    let rest = m[2].trim();
    const flags: Record<string, string> = {};
    for (let f = /^--([a-z-]+)=(\S+)\s+/.exec(rest); f; f = /^--([a-z-]+)=(\S+)\s+/.exec(rest)) {
      flags[f[1]] = f[2];
      rest = rest.slice(f[0].length);
    }
    if (m[1] === 'FROM') stage++;
    // HEALTHCHECK flags come before its CMD.
    const args = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
    out.push({ keyword: m[1], flags, args, raw: rest, stage });
  }
  return out;
}

/** .dockerignore's patterns as regular expressions over repo-relative paths (`**`, `*`; a match excludes subpaths). */
function ignored(): (path: string) => boolean {
  const patterns = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  expect(patterns.some((p) => p.startsWith('!')), 'no exceptions (this check does not read them)').toBe(false);
  const res = patterns.map((p) => {
    // `**/` is any folders (none too), `**` anything, `*` anything within one path segment.
    const body = p
      .replace(/^\/+/, '')
      .split(/(\*\*\/|\*\*|\*)/)
      .map((part) => (part === '**/' ? '(?:.*/)?' : part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+^${}()|[\]\\?]/g, '\\$&')))
      .join('');
    return new RegExp(`^${body}(?:/.*)?$`);
  });
  return (path: string) => res.some((r) => r.test(path));
}

/** The subcommands `btf-atlas --help` lists (the built CLI, as the image's entry point runs it). */
function cliCommands(args: string[] = ['--help']): { commands: Set<string>; text: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  const commands = new Set<string>();
  const section = r.stdout.split(/^Commands:$/m)[1] ?? '';
  for (const m of section.matchAll(/^ {2}([a-z][a-z0-9-]*)\b/gm)) commands.add(m[1]);
  return { commands, text: r.stdout };
}

const ATLAS = ['api', 'worker', 'sync'];

/** Runs `node -e SCRIPT` without blocking this process (whose server the script may ask); resolves its exit code. */
function nodeEval(script: string, env: Record<string, string> = {}): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { env: { ...process.env, ...env }, stdio: 'ignore', timeout: 30_000 });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

describe('docker-compose.yml', () => {
  it('has redis, the api, two workers and the sync job, each built or pulled', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'redis', 'sync', 'worker']);
    expect(compose.services.redis.image).toMatch(/^redis:\d/);
    for (const name of ATLAS) {
      const s = compose.services[name];
      expect(s.build, name).toBe('.');
      expect(s.image, name).toBe(compose.services.api.image);
    }
    // Two workers: replicas of one service.
    expect(compose.services.worker.deploy?.replicas).toBe(2);
    // The sync job runs on demand only.
    expect(compose.services.sync.profiles).toEqual(['sync']);
    for (const name of ['redis', 'api', 'worker']) expect(compose.services[name].profiles, name).toBeUndefined();
  });

  it('keeps Redis on AOF in a volume, checked with PING', () => {
    const redis = compose.services.redis;
    const cmd = redis.command ?? [];
    expect(cmd[0]).toBe('redis-server');
    expect(cmd[cmd.indexOf('--appendonly') + 1]).toBe('yes');
    expect(cmd).toContain('--appendfsync');
    expect(redis.volumes).toEqual(['redis:/data']);
    expect(redis.healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('shares one catalog volume, mounted where BTF_ATLAS_DB is, and the archive read-only at the ingest root', () => {
    for (const name of ATLAS) {
      const s = compose.services[name];
      const db = s.environment?.BTF_ATLAS_DB ?? '';
      expect(db, name).toMatch(/^\/data\//);
      expect(s.volumes, name).toContain(`catalog:${posix.dirname(db)}`);
      expect(s.volumes?.some((v) => /:\/archive:ro$/.test(v)), name).toBe(true);
      expect(s.environment?.REDIS_URL, name).toBe('redis://redis:6379');
    }
    expect(compose.services.api.environment?.BTF_ATLAS_INGEST_ROOT).toBe('/archive');
    expect(Object.keys(compose.volumes).sort()).toEqual(['catalog', 'redis']);
    // The default archive tree is in the repository.
    const archive = compose.services.api.volumes!.find((v) => v.endsWith(':/archive:ro'))!.replace(/:\/archive:ro$/, '');
    expect(statSync(join(REPO, substitute(archive))).isDirectory()).toBe(true);
  });

  it('starts in order: everything waits for a healthy redis, the workers and sync for a healthy api', () => {
    const healthy = (name: string) => {
      const h = compose.services[name].healthcheck;
      return h !== undefined && h.disable !== true && h.test !== undefined;
    };
    for (const [name, s] of Object.entries(compose.services)) {
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        expect(compose.services[dep], `${name} -> ${dep}`).toBeDefined();
        expect(condition, `${name} -> ${dep}`).toBe('service_healthy');
        expect(healthy(dep), `${dep} has a health check`).toBe(true);
      }
    }
    expect(Object.keys(compose.services.api.depends_on ?? {})).toEqual(['redis']);
    expect(Object.keys(compose.services.worker.depends_on ?? {}).sort()).toEqual(['api', 'redis']);
    expect(Object.keys(compose.services.sync.depends_on ?? {}).sort()).toEqual(['api', 'redis']);
    // No HTTP in workers and sync: the image's check is turned off there, not left failing.
    expect(compose.services.worker.healthcheck?.disable).toBe(true);
    expect(compose.services.sync.healthcheck?.disable).toBe(true);
  });

  it('requires the admin token rather than defaulting one', () => {
    const token = compose.services.api.environment?.BTF_ATLAS_ADMIN_TOKEN ?? '';
    expect(() => substitute(token)).toThrow(/BTF_ATLAS_ADMIN_TOKEN is required/);
    expect(substitute(token, { BTF_ATLAS_ADMIN_TOKEN: TOKEN })).toBe(TOKEN);
  });

  it('runs only commands the built CLI has, with options it takes', () => {
    const { commands } = cliCommands();
    for (const sub of ['serve', 'worker', 'sync', 'ingest']) expect(commands, sub).toContain(sub);
    for (const name of ATLAS) {
      const cmd = (compose.services[name].command ?? []).map((a) => substitute(a));
      expect(commands, name).toContain(cmd[0]);
      const help = cliCommands([cmd[0], '--help']).text;
      for (const opt of cmd.filter((a) => a.startsWith('--'))) expect(help, `${name}: ${opt}`).toContain(opt);
    }
    // The sync job: a distro the command reads, and a repeat interval (a job scheduler on the queue, then it exits).
    const sync = compose.services.sync.command!.map((a) => substitute(a));
    expect(sync.slice(0, 2)).toEqual(['sync', 'debian']);
    expect(Number(sync[sync.indexOf('--every') + 1])).toBeGreaterThan(0);
  });

  describe('the health checks against a running API', () => {
    let dir: string;
    let app: FastifyInstance;
    let port: number;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'btf-atlas-compose-'));
      app = await buildApp({ dbPath: join(dir, 'atlas.db'), adminToken: TOKEN });
      await app.listen({ port: 0, host: '127.0.0.1' });
      port = (app.server.address() as { port: number }).port;
    });

    afterAll(async () => {
      await app?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** Runs a `CMD` health check's `node -e …` here, with the container's port replaced by the test server's. */
    function runCheck(test: string[], serverPort: number): Promise<number | null> {
      expect(test[0]).toBe('CMD');
      expect(test.slice(1, 3)).toEqual(['node', '-e']);
      return nodeEval(test[3].replace(/127\.0\.0\.1:3000\//, `127.0.0.1:${serverPort}/`));
    }

    it("the api service's check fetches a route the API answers 200, and fails when nothing answers", async () => {
      const api = compose.services.api;
      const test = api.healthcheck!.test as string[];
      const url = /http:\/\/127\.0\.0\.1:(\d+)(\/[a-z]*)/.exec(test[3]);
      expect(url).not.toBeNull();
      expect(url![1]).toBe(api.environment?.PORT);
      // Published on BTF_ATLAS_PORT (default the same port) of the host.
      expect(api.ports).toContain(`\${BTF_ATLAS_PORT:-${api.environment?.PORT}}:${api.environment?.PORT}`);
      expect((await app.inject({ method: 'GET', url: url![2] })).statusCode).toBe(200);
      expect(await runCheck(test, port)).toBe(0);
      // A closed port: the check fails (exit 1), it does not hang.
      const closed = await buildApp({ dbPath: join(dir, 'closed.db'), adminToken: TOKEN });
      await closed.listen({ port: 0, host: '127.0.0.1' });
      const closedPort = (closed.server.address() as { port: number }).port;
      await closed.close();
      expect(await runCheck(test, closedPort)).toBe(1);
    });

    it("the image's HEALTHCHECK does the same on $PORT", async () => {
      const hc = dockerfile().find((i) => i.keyword === 'HEALTHCHECK')!;
      const cmd = JSON.parse(hc.raw.replace(/^(--[a-z-]+=\S+\s+)*CMD\s+/, '')) as string[];
      expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
      expect(cmd[2]).toContain('/healthz');
      expect(await nodeEval(cmd[2], { PORT: String(port) })).toBe(0);
    });
  });

  it('is valid for docker compose itself, where a compose client is installed (no engine needed)', (ctx) => {
    // `docker compose` (the v2 plugin) or the standalone `docker-compose`; neither is a test dependency.
    const clients = [['docker', 'compose'], ['docker-compose']].filter(([cmd, ...sub]) => spawnSync(cmd, [...sub, 'version'], { timeout: 30_000 }).status === 0);
    if (clients.length === 0) {
      console.warn('compose.test: no docker compose client here (neither `docker compose` nor `docker-compose`): the file is checked by the other tests only');
      ctx.skip();
      return;
    }
    const [cmd, ...sub] = clients[0];
    const run = (env: Record<string, string>) => spawnSync(cmd, [...sub, '-f', join(REPO, 'docker-compose.yml'), '--profile', 'sync', 'config'], {
      encoding: 'utf8',
      timeout: 60_000,
      cwd: REPO,
      env: { ...process.env, BTF_ATLAS_ADMIN_TOKEN: '', ...env },
    });
    const ok = run({ BTF_ATLAS_ADMIN_TOKEN: TOKEN });
    expect(ok.status, ok.stderr).toBe(0);
    const resolved = parse(ok.stdout) as ComposeFile;
    expect(Object.keys(resolved.services).sort()).toEqual(['api', 'redis', 'sync', 'worker']);
    expect(resolved.services.worker.deploy?.replicas).toBe(2);
    expect(resolved.services.api.environment?.BTF_ATLAS_ADMIN_TOKEN).toBe(TOKEN);
    // Without the token the file does not resolve, naming what is missing.
    const missing = run({});
    expect(missing.status).not.toBe(0);
    expect(missing.stderr).toContain('BTF_ATLAS_ADMIN_TOKEN');
  });
});

describe('Dockerfile', () => {
  const steps = dockerfile();
  const last = Math.max(...steps.map((s) => s.stage));
  const isIgnored = ignored();

  it('builds in a stage with the native toolchain, and runs on node:20-bookworm-slim', () => {
    const froms = steps.filter((s) => s.keyword === 'FROM');
    expect(froms.map((f) => f.raw)).toEqual(['node:20-bookworm-slim AS build', 'node:20-bookworm-slim']);
    const buildRuns = steps.filter((s) => s.stage === 0 && s.keyword === 'RUN').map((s) => s.raw).join(' ');
    for (const pkg of ['python3', 'make', 'g++']) expect(buildRuns).toContain(` ${pkg}`);
    expect(buildRuns).toMatch(/npm ci && npm prune --omit=dev/);
  });

  it('copies only what the repository has and .dockerignore lets through', () => {
    const sources = steps.filter((s) => s.keyword === 'COPY' && s.flags.from === undefined).flatMap((s) => s.args.slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const src of sources) {
      expect(existsSync(join(REPO, src)), src).toBe(true);
      expect(isIgnored(src), `${src} is ignored`).toBe(false);
    }
    // What the runtime needs from those folders is not ignored either: migrations, the entry point, the explorer's assets.
    for (const p of ['migrations', 'apps/cli/bin/btf-atlas.js', 'libs/explorer/assets/explorer.css', 'libs/http/src/app.ts']) {
      expect(existsSync(join(REPO, p)), p).toBe(true);
      expect(isIgnored(p), p).toBe(false);
    }
    // And what must stay out is.
    for (const p of ['node_modules', 'libs/http/node_modules/x', 'libs/http/dist', 'libs/http/dist/app.js', '.git', 'data/atlas.db', 'x/atlas.db', 'atlas.db.blobs/ab/cd', 'libs/http/test/metrics.test.ts', 'fixtures', 'libs/http/tsconfig.tsbuildinfo']) {
      expect(isIgnored(p), p).toBe(true);
    }
  });

  it('gives the runtime stage the built tree: packages, node_modules, migrations, the CLI entry point', () => {
    const copied = steps.filter((s) => s.stage === last && s.keyword === 'COPY' && s.flags.from === 'build').flatMap((s) => s.args.slice(0, -1));
    for (const src of copied) expect(src, src).toMatch(/^\/app\//);
    const top = new Set(copied.map((c) => c.slice('/app/'.length).split('/')[0]));
    for (const need of ['node_modules', 'libs', 'apps', 'migrations', 'package.json']) expect(top, need).toContain(need);
    // Built output lands beside the sources in the build stage's /app (WORKDIR), which is what gets copied.
    expect(steps.find((s) => s.stage === 0 && s.keyword === 'WORKDIR')?.raw).toBe('/app');
    expect(steps.find((s) => s.stage === last && s.keyword === 'WORKDIR')?.raw).toBe('/app');
    // The migrations are where the catalog looks for them (libs/catalog/dist/db.js: ../../../migrations).
    expect(readFileSync(join(REPO, 'libs/catalog/src/db.ts'), 'utf8')).toContain("new URL('../../../migrations', import.meta.url)");
  });

  it('runs the CLI as the non-root node user, writing only /data', () => {
    const runtime = steps.filter((s) => s.stage === last);
    const user = runtime.filter((s) => s.keyword === 'USER').map((s) => s.raw);
    expect(user).toEqual(['node']);
    expect(runtime.filter((s) => s.keyword === 'RUN').map((s) => s.raw).join(' ')).toMatch(/chown node:node \/data/);
    expect(runtime.find((s) => s.keyword === 'VOLUME')?.args).toEqual(['/data']);
    const env = runtime.filter((s) => s.keyword === 'ENV').map((s) => s.raw).join(' ');
    expect(env).toMatch(/BTF_ATLAS_DB=\/data\/atlas\.db/);
    expect(env).toMatch(/HOST=0\.0\.0\.0/);
    const entry = runtime.find((s) => s.keyword === 'ENTRYPOINT')!.args;
    expect(entry).toEqual(['node', 'apps/cli/bin/btf-atlas.js']);
    expect(existsSync(join(REPO, entry[1]))).toBe(true);
    const cmd = runtime.find((s) => s.keyword === 'CMD' && s.args.length > 0)!.args;
    expect(cmd).toEqual(['serve']);
    expect(cliCommands().commands).toContain('serve');
  });
});
