import { redactText } from '@yoi-plugins/host/internal/diagnostics.js';
import type { LogFields, Logger } from '@yoi-plugins/host/internal/serve/log.js';
import { jsonLogger } from '@yoi-plugins/host/internal/serve/log.js';
import { escapeTerminal } from './terminal.js';
import { UsageError } from './io.js';

export type LogFormat = 'json' | 'text';

/** `--log-format`: JSON lines unless stderr is a terminal (or `text` is asked for). */
export function logFormat(option: string | undefined, stderrIsTty: boolean): LogFormat {
  if (option === undefined) return stderrIsTty ? 'text' : 'json';
  if (option === 'json' || option === 'text') return option;
  throw new UsageError('--log-format must be json or text');
}

export function formatLogger(format: LogFormat, write: (line: string) => void): Logger {
  return format === 'json' ? jsonLogger(write) : textLogger(write);
}

/**
 * One readable line per entry: `HH:MM:SS.mmm LEVEL message key=value …`. Values are redacted
 * like the JSON form and escaped for the terminal (plugin-controlled text never moves the
 * cursor or changes colours); values with spaces are quoted.
 */
function textLogger(write: (line: string) => void): Logger {
  return (level, msg, fields: LogFields = {}) => {
    const parts = [new Date().toISOString().slice(11, 23), level.toUpperCase().padEnd(5), escapeTerminal(redactText(msg, 512), { limit: 512 })];
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      const shown = typeof value === 'string' ? escapeTerminal(redactText(value, 512), { limit: 512 }) : String(value);
      parts.push(`${key}=${shown === '' || /[\s"=]/.test(shown) ? JSON.stringify(shown) : shown}`);
    }
    write(parts.join(' ') + '\n');
  };
}
