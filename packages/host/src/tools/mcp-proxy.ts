import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { mcpClientSdk, mcpSdk } from './mcp-sdk.js';
import type { McpToolSurface } from './mcp-server.js';

const REQUEST = { timeout: 10 * 60_000 };

export interface McpUpstream {
  readonly surface: McpToolSurface;
  readonly client: Client;
  close(): Promise<void>;
}

/**
 * The tools of a running serve, reached over its Streamable HTTP endpoint with the official
 * client: what `yoi plugin mcp` (stdio) offers while serve runs, so both see the same live
 * instances. A call the upstream cannot answer (serve stopped) is a tool error. `onToolsChanged`
 * hears serve's `tools/list_changed`.
 */
export async function connectMcpUpstream(url: string, token: string, onToolsChanged: () => void): Promise<McpUpstream> {
  const { Client, StreamableHTTPClientTransport } = mcpClientSdk();
  const { ToolListChangedNotificationSchema } = mcpSdk();
  const client = new Client({ name: 'yoi-plugin-mcp-proxy', version: '0.1.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers: { authorization: `Bearer ${token}` } } });
  await client.connect(transport);
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => onToolsChanged());
  return {
    client,
    surface: {
      listTools: async () => (await client.listTools(undefined, REQUEST)).tools,
      callTool: async (name, args) => {
        try {
          return (await client.callTool({ name, arguments: args }, undefined, REQUEST)) as CallToolResult;
        } catch (error) {
          return { content: [{ type: 'text', text: `serve did not answer: ${error instanceof Error ? error.message : String(error)}` }], isError: true };
        }
      },
    },
    close: () => client.close(),
  };
}
