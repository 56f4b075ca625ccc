export * from './queues.js';
export * from './jobs.js';
export * from './worker.js';
export * from './run-worker.js';
export * from './job-runner.js';
export * from './sync-jobs.js';
