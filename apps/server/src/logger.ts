import { pino, type Logger as Pino } from 'pino';
import type { LogFields, Logger } from '@forge/core';

/** JSON lines on stdout (pino writes asynchronously, so logging stays off the hot path). */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const base = pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, destination as never);
  return wrap(base);
}

function wrap(p: Pino): Logger {
  return {
    debug: (msg: string, fields?: LogFields) => p.debug(fields ?? {}, msg),
    info: (msg: string, fields?: LogFields) => p.info(fields ?? {}, msg),
    warn: (msg: string, fields?: LogFields) => p.warn(fields ?? {}, msg),
    error: (msg: string, fields?: LogFields) => p.error(fields ?? {}, msg),
    child: (fields: LogFields) => wrap(p.child(fields)),
  };
}
