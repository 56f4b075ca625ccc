import type { FastifyInstance } from 'fastify';

/** Pages that compare: the diff of two kernels, function, enum and tracepoint histories, and the CO-RE dry run. */
export default async function comparePages(_app: FastifyInstance): Promise<void> {}
