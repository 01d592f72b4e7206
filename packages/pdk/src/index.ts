/**
 * Guest PDK for Yoi Plugins written in TypeScript. It runs inside the component: it imports
 * no host code and no `node:*` module. Host APIs live in their own entry points
 * (`@yoi-plugins/pdk/request`, `@yoi-plugins/pdk/fs`) so a plugin imports only what its
 * manifest requests. There is deliberately no WebSocket receive API: long-lived connections
 * are host-owned and arrive as events.
 */
import './globals.js';
export { defineTools, runTool, renderToolError, boundToolOutput, ToolError } from './tools.js';
export type { ToolHandler, ToolHandlers } from './tools.js';
export { definePlugin } from './plugin.js';
export type { PluginDefinition, IngressHandler, InstanceExports } from './plugin.js';
export { Commands } from './commands.js';
export type { RequestDescriptor, TimerOptions } from './commands.js';
export { HostApiError } from './host-error.js';
export { SUMMARY_MAX_BYTES, CONTENT_MAX_BYTES, OUTPUT_MAX_BYTES, STATE_LIMITS, byteLength, truncateBytes } from './bounds.js';
export type * from './types.js';

/** WIT worlds a plugin component can target. */
export const WORLDS = {
  tool: 'yoi:plugin/tool@1.0.0',
  instance: 'yoi:plugin/instance@1.0.0',
} as const;
