import { createRequire } from 'node:module';

/**
 * commander, loaded with require: it is a CommonJS package, and importing it as ESM makes Node's loader lex its
 * source for export names first, ~10 ms of every command's start. Every module of the CLI takes it from here.
 */
const commander = createRequire(import.meta.url)('commander') as typeof import('commander');

export const { Command, CommanderError, Option } = commander;
export type Command = import('commander').Command;
export type CommanderError = import('commander').CommanderError;
export type Option = import('commander').Option;
