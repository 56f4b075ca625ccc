/** A failure the CLI reports as one line on stderr with exit code 1. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'CLI_ERROR',
  ) {
    super(message);
  }
}

/** Ends a command with an exit code after it has already printed what went wrong (nothing more is printed). */
export class QuietExit extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}
