import { createRequire } from 'node:module';

/**
 * The parts of the MCP SDK the host uses, loaded when an MCP server is first created (the SDK
 * and zod take 150–350 ms to load; the library and every other command never need them).
 * Loaded through `require` so that `createMcpServer` stays synchronous; everything comes from
 * the SDK's CommonJS build, so no second (ESM) copy is ever loaded beside it.
 */
const require = createRequire(import.meta.url);

type Sdk = typeof import('@modelcontextprotocol/sdk/server/index.js') &
  typeof import('@modelcontextprotocol/sdk/types.js') &
  typeof import('@modelcontextprotocol/sdk/server/stdio.js');

let sdk: Sdk | undefined;

export function mcpSdk(): Sdk {
  return (sdk ??= {
    ...(require('@modelcontextprotocol/sdk/server/index.js') as object),
    ...(require('@modelcontextprotocol/sdk/types.js') as object),
    ...(require('@modelcontextprotocol/sdk/server/stdio.js') as object),
  } as Sdk);
}
