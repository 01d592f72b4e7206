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

type HttpSdk = typeof import('@modelcontextprotocol/sdk/server/streamableHttp.js');
type ClientSdk = typeof import('@modelcontextprotocol/sdk/client/index.js') & typeof import('@modelcontextprotocol/sdk/client/streamableHttp.js');

let httpSdk: HttpSdk | undefined;
let clientSdk: ClientSdk | undefined;

/** The Streamable HTTP server transport (serve's `/mcp`). */
export function mcpHttpSdk(): HttpSdk {
  return (httpSdk ??= require('@modelcontextprotocol/sdk/server/streamableHttp.js') as HttpSdk);
}

/** The client over Streamable HTTP (`yoi plugin mcp` proxying to a running serve). */
export function mcpClientSdk(): ClientSdk {
  return (clientSdk ??= {
    ...(require('@modelcontextprotocol/sdk/client/index.js') as object),
    ...(require('@modelcontextprotocol/sdk/client/streamableHttp.js') as object),
  } as ClientSdk);
}
