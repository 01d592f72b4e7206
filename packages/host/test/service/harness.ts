import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { PluginHost } from '../../src/host.js';
import type { JsonValue } from '../../src/manifest/types.js';
import type { Clock } from '../../src/service/clock.js';
import type { Journal } from '../../src/journal/journal.js';
import type { DomainEvent, PluginService, ServiceEffects } from '../../src/service/plugin-service.js';
import type { ServicePolicy } from '../../src/service/policy.js';
import type { ServiceEvent } from '../../src/service/service-events.js';
import type { LimitOverrides } from '../../src/sandbox/limits.js';
import { buildJsComponent } from '../fixtures/js.js';
import { SERVICE_SOURCE, serviceManifest } from '../fixtures/service.js';
import { pluginWorkspace, TEST_TRANSPILE_CACHE, type PluginSpec } from '../fixtures/workspace.js';

export const FAST: Partial<ServicePolicy> = { retryBaseMs: 5, retryMaxMs: 20, restartBaseMs: 5, restartMaxMs: 20, maxAttempts: 3 };

export interface Handled {
  kind: string;
  source: string;
  attempt: number;
  id: string;
  ingress: string;
  tag: string | null;
  payload: Record<string, unknown> | null;
}

export interface OpenOptions {
  policy?: Partial<ServicePolicy>;
  manifest?: string;
  extraPlugins?: PluginSpec[];
  domainEvents?: DomainEvent[];
  /** The domain event sink (default: pushes to `domainEvents`); a test may hold the outbox here. */
  appendDomainEvent?: (event: DomainEvent) => void | Promise<void>;
  config?: JsonValue;
  limits?: LimitOverrides;
  clock?: Clock;
  /** The journal to write to (default: the host's own, in memory). */
  journal?: Journal;
  /** Effects besides the domain-event sink (e.g. `mayAct`, as several hosts set it). */
  effects?: Pick<ServiceEffects, 'mayAct'>;
}

export interface Opened {
  host: PluginHost;
  service: PluginService;
  events: ServiceEvent[];
  /** Lifecycle transitions seen so far, as `From→To`. */
  transitions(): string[];
  handled(): Promise<Handled[]>;
  /** The durable states handed to the current instance (`state_restored`), and how many events it had handled before each. */
  restored(): Promise<{ state: Record<string, unknown>; after_handled: number }[]>;
  workspace: string;
}

/** A workspace with the fixture service (`project:svc`), opened as a host with a recording event hook. */
export async function openService(t: TestContext, options: OpenOptions = {}): Promise<Opened> {
  const manifest = options.manifest ?? serviceManifest();
  const component = await buildJsComponent(SERVICE_SOURCE, manifest);
  const ws = pluginWorkspace(t, [
    { manifest, component, ...(options.config !== undefined ? { config: options.config } : {}), ...(options.limits ? { limits: options.limits } : {}) },
    ...(options.extraPlugins ?? []),
  ]);
  const events: ServiceEvent[] = [];
  const host = await PluginHost.fromWorkspace(
    { workspace: ws.workspace, builtinDir: join(ws.root, 'none'), env: { HOME: ws.root } },
    {
      cacheDir: TEST_TRANSPILE_CACHE,
      servicePolicy: { ...FAST, ...options.policy },
      effects: { appendDomainEvent: options.appendDomainEvent ?? ((event) => void options.domainEvents?.push(event)), ...options.effects },
      onServiceEvent: (event) => events.push(event),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.journal ? { journal: options.journal } : {}),
    },
  );
  t.after(() => host.close());
  const service = host.services.get('project:svc')!;
  assert.ok(service, 'the service exists');
  return {
    host,
    service,
    events,
    workspace: ws.workspace,
    transitions: () => events.filter((e) => e.kind === 'lifecycle').map((e) => `${String(e.fields?.['from'])}→${String(e.fields?.['to'])}`),
    handled: async () => JSON.parse((await host.callTool('handled', {})).content!) as Handled[],
    restored: async () => JSON.parse((await host.callTool('restored', {})).content!) as { state: Record<string, unknown>; after_handled: number }[],
  };
}

