/**
 * The globals a plugin has inside the component besides the ECMAScript ones: `console` (its
 * output goes where the host puts guest output). Declared here so a plugin type-checks with
 * `lib: ["ES2022"]` and no DOM or Node types, which would promise APIs the guest does not
 * have. The declarations merge with DOM's or Node's when those are present.
 */
declare global {
  interface Console {
    log(...data: unknown[]): void;
    info(...data: unknown[]): void;
    warn(...data: unknown[]): void;
    error(...data: unknown[]): void;
    debug(...data: unknown[]): void;
  }
  var console: Console;
}

export {};
