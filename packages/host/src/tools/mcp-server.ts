import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { PluginError } from '../errors.js';
import type { PluginHost } from '../host.js';
import type { JsonValue } from '../manifest/types.js';
import { mcpSdk } from './mcp-sdk.js';
import { toolErrorOf } from './tool-output.js';

const MCP_SERVER_NAME = 'yoi-plugins';

/**
 * An MCP server exposing every registered tool of a host with its input schema. Tool failures
 * become MCP tool errors (`isError: true`), never protocol errors; nothing here can change
 * grants or enablement.
 */
export function createMcpServer(host: PluginHost, version = '0.1.0'): Server {
  const { Server, CallToolRequestSchema, ListToolsRequestSchema } = mcpSdk();
  const server = new Server({ name: MCP_SERVER_NAME, version }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: host.tools.list().map((tool) => ({
      name: tool.name,
      description: tool.description,
      inputSchema: tool.input_schema as { type: 'object'; [key: string]: unknown },
      ...(tool.external_write ? { annotations: { readOnlyHint: false, destructiveHint: true } } : {}),
    })),
  }));
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    try {
      const output = await host.tools.call(request.params.name, (request.params.arguments ?? {}) as JsonValue);
      const text = output.content === null ? output.summary : `${output.summary}\n\n${output.content}`;
      // A tool's own error report (`tool error: <code>`) is an MCP tool error too.
      return { content: [{ type: 'text' as const, text }], structuredContent: { summary: output.summary, content: output.content }, ...(toolErrorOf(output) ? { isError: true } : {}) };
    } catch (error) {
      const message = error instanceof PluginError ? `${error.code}: ${error.message}` : 'tool call failed';
      return { content: [{ type: 'text' as const, text: message }], isError: true };
    }
  });
  return server;
}
