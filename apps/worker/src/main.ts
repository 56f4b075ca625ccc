import { runWorker, workerConfigFromEnv } from '@btf-atlas/queue';

try {
  await runWorker(workerConfigFromEnv(process.env));
} catch (err) {
  process.stderr.write(`btf-atlas worker: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
