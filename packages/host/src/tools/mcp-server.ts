import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { PluginError } from '../errors.js';
import type { PluginHost } from '../host.js';
import type { JsonValue } from '../manifest/types.js';
import { mcpSdk } from './mcp-sdk.js';
import type { ToolInfo, ToolRegistry } from './registry.js';
import { toolErrorOf, type ToolOutput } from './tool-output.js';

const MCP_SERVER_NAME = 'yoi-plugins';

/** What an MCP server offers: the tool list and calls. One surface for stdio, HTTP and the stdio proxy. */
export interface McpToolSurface {
  listTools(): Promise<Tool[]>;
  callTool(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
}

/** Runs a tool by its listed name (bare or `<plugin ref>/<tool>`). */
export type ToolCall = (name: string, input: JsonValue) => Promise<ToolOutput>;

/** The shape of `structuredContent`: the tool's ToolOutput object. */
const OUTPUT_SCHEMA = {
  type: 'object',
  properties: { summary: { type: 'string' }, content: { type: ['string', 'null'] } },
  required: ['summary', 'content'],
} as const;

function mcpTool(tool: ToolInfo, name: string, description: string): Tool {
  return {
    name,
    description,
    inputSchema: tool.input_schema as Tool['inputSchema'],
    outputSchema: OUTPUT_SCHEMA as unknown as Tool['outputSchema'],
    ...(tool.external_write ? { annotations: { readOnlyHint: false, destructiveHint: true } } : {}),
  };
}

/**
 * The tools of a registry as MCP lists them: every tool under its bare name, and a tool whose
 * name an earlier plugin took under its qualified name `<plugin ref>/<tool>` (the name the
 * registry, `POST /v1/tools/call` and the CLI accept too), so no registered tool is hidden.
 */
export function registrySurface(tools: () => ToolRegistry, call: ToolCall = (name, input) => tools().call(name, input)): McpToolSurface {
  return {
    listTools: async () => {
      const registry = tools();
      const bare = registry.list().map((tool) => mcpTool(tool, tool.name, tool.description));
      const taken = new Set(bare.map((t) => t.name));
      const qualified = registry
        .shadowed()
        .map((tool) => mcpTool(tool, `${tool.origin.plugin_ref}/${tool.name}`, `(${tool.origin.plugin_ref}) ${tool.description}`))
        .filter((t) => !taken.has(t.name));
      return [...bare, ...qualified];
    },
    callTool: async (name, args) => {
      try {
        const output = await call(name, args as JsonValue);
        const text = output.content === null ? output.summary : `${output.summary}\n\n${output.content}`;
        // A tool's own error report (`tool error: <code>`) is an MCP tool error too.
        return { content: [{ type: 'text', text }], structuredContent: { summary: output.summary, content: output.content }, ...(toolErrorOf(output) ? { isError: true } : {}) };
      } catch (error) {
        const message = error instanceof PluginError ? `${error.code}: ${error.message}` : 'tool call failed';
        return { content: [{ type: 'text', text: message }], isError: true };
      }
    },
  };
}

// A PluginHost has `listTools` too (ToolInfo, not MCP's shape): told apart by its registry.
function isSurface(source: McpToolSurface | PluginHost): source is McpToolSurface {
  return !('tools' in source);
}

function hostSurface(host: PluginHost): McpToolSurface {
  return registrySurface(() => host.tools);
}

/**
 * An MCP server exposing a tool surface. Tool failures become MCP tool errors
 * (`isError: true`), never protocol errors; nothing here can change grants or enablement.
 */
export function createMcpServer(source: McpToolSurface | PluginHost, version = '0.1.0'): Server {
  const surface = isSurface(source) ? source : hostSurface(source);
  const { Server, CallToolRequestSchema, ListToolsRequestSchema } = mcpSdk();
  const server = new Server({ name: MCP_SERVER_NAME, version }, { capabilities: { tools: { listChanged: true } } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: await surface.listTools() }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => surface.callTool(request.params.name, request.params.arguments ?? {}));
  return server;
}
