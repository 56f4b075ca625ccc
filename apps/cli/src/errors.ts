/** A failure the CLI reports as one line on stderr with exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'CLI_ERROR',
  ) {
    super(message);
  }
}
