import { redactText } from '../diagnostics.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;
export type Logger = (level: LogLevel, msg: string, fields?: LogFields) => void;

/** Structured JSON-line logs; every string is redacted and bounded. */
export function jsonLogger(write: (line: string) => void): Logger {
  return (level, msg, fields = {}) => {
    const entry: Record<string, unknown> = { ts: new Date().toISOString(), level, msg: redactText(msg, 512) };
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      entry[key] = typeof value === 'string' ? redactText(value, 512) : value;
    }
    write(JSON.stringify(entry) + '\n');
  };
}
