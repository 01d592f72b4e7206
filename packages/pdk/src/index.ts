/**
 * Guest PDK for Yoi Plugins written in TypeScript. It runs inside the component, so it must
 * never import host code or `node:*` modules. The typed helpers (tools, instances, ingress,
 * output commands, host API wrappers) arrive with issue D; for now it names the worlds and
 * the bounds that guests and host agree on.
 */

/** WIT worlds a plugin component can target. */
export const WORLDS = {
  tool: 'yoi:plugin/tool@1.0.0',
  instance: 'yoi:plugin/instance@1.0.0',
} as const;

/** Host interfaces a component may import (each needs its grant). */
export const HOST_INTERFACES = ['yoi:host/request@1.0.0', 'yoi:host/websocket@1.0.0', 'yoi:host/fs@1.0.0'] as const;
