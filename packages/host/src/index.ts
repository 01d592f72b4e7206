/**
 * The embeddable host of Yoi Plugins: resolve the plugins a workspace enables, run their
 * WebAssembly components in sandboxes, call their tools, and supervise their services with a
 * durable journal.
 *
 * This entry is the curated library API, pinned by `packages/host/api/host.api.md` (API
 * Extractor; `npm run api` updates it, a test fails when it is stale). Everything else in the
 * package is internal and may change without notice.
 *
 * @packageDocumentation
 */

// Diagnostics: the bounded, redacted problem reports of discovery, manifests and resolution.
export { DIAGNOSTIC_KINDS, DIAGNOSTIC_PHASES } from './diagnostics.js';
export type { Diagnostic, DiagnosticKind, DiagnosticPhase, SourceKind, Outcome } from './diagnostics.js';

// Manifest: plugin.toml → typed model.
export { parseManifest, MANIFEST_FILE_NAME } from './manifest/parse.js';
export { validateManifest } from './manifest/validate.js';
export { parsePluginRef, formatPluginRef } from './manifest/ids.js';
export type { PluginRef, RefParse } from './manifest/ids.js';
export { SURFACES, HOST_APIS, COMPONENT_WORLDS, TOOL_WORLD, INSTANCE_WORLD } from './manifest/types.js';
export type * from './manifest/types.js';

// Packages: what a resolved plugin's archive or directory holds.
export type { PackageFiles } from './package/limits.js';
export { computePackageDigest } from './package/digest.js';
export { loadPluginPackage } from './package/plugin-package.js';
export type { PluginPackage } from './package/plugin-package.js';
export type { ComponentFormat } from './package/component-format.js';

// Stores, discovery, enablement, resolution: which plugins a workspace runs, with which grants.
export type { StoreLocation, StoreOptions } from './store/locations.js';
export type { DiscoveredPackage, Discovery } from './store/discover.js';
export { parseEnablementConfig, FS_OPERATIONS } from './store/enablement.js';
export type { EnablementConfig, EnablementEntry, RejectedEntry, Grants, FsGrant, FsOperation } from './store/enablement.js';
export type { ControlLocation } from './store/control-paths.js';
export { resolveEnabledPlugins } from './store/resolve.js';
export type { ResolvedPlugin, Resolution } from './store/resolve.js';
export { loadWorkspace } from './store/workspace.js';
export type { WorkspaceState } from './store/workspace.js';
export { Secrets } from './secrets/secrets.js';

// Inventory: what `yoi plugin check`, `list` and `show` report.
export { checkPlugin } from './inventory/check.js';
export type { CheckReport, CheckStatus, CheckDiagnostic, OperatorGrants, PackageReport } from './inventory/check.js';
export { INSPECTION_SAFETY } from './inventory/safety.js';
export { inventoryWorkspace } from './inventory/snapshot.js';
export type { InventoryItem, InventorySnapshot, ItemStatus } from './inventory/snapshot.js';
export type { StaticInspection, ToolInspection, RuntimeInspection, HostApiInspection, NamedSurfaceInspection } from './authority/inspect.js';

// The `yoi` CLI and the authoring tools are another package, `@yoi-plugins/cli`.

// Running plugins: the host, read-only runtime views, tools, limits.
export { PluginHost } from './host.js';
// Services for `PluginHost.fromResolved` (a bare internal import of host.js loads them on demand).
import './reload/service-unit.js';
export type { DesiredPlugins } from './reload/desired.js';
export type { PluginReloadOutcome, ReloadAction } from './reload/reconcile.js';
export type { PluginHostOptions } from './host.js';
export type { PluginRuntimeView } from './runtime/runtime-view.js';
export type { RuntimeOptions, RuntimeState } from './runtime/plugin-runtime.js';
export type { ExecutionMode } from './sandbox/execution.js';
export type { SandboxCounters } from './sandbox/sandbox.js';
export type { InstancePoolStatus } from './sandbox/instance-pool.js';
export { ToolRegistry } from './tools/registry.js';
export type { ToolInfo, ToolOrigin, RegistrationIssue } from './tools/registry.js';
export type { ToolOutput } from './tools/tool-output.js';
export { createMcpServer } from './tools/mcp-server.js';
export type { McpToolSurface } from './tools/mcp-server.js';
export { DEFAULT_LIMITS, HOST_MAXIMA, IO_LIMITS } from './sandbox/limits.js';
export type { ExecutionLimits, LimitOverrides } from './sandbox/limits.js';
export { defaultCacheDir } from './sandbox/transpile-cache.js';
export { enableWasmExtendedConst } from './sandbox/component-loader.js';

// Errors: match on `code` (docs/errors.md lists every code with its meaning).
export { PluginError, ERROR_CODE_DESCRIPTIONS } from './errors.js';
export type { ErrorCode } from './errors.js';

// Services: lifecycle, ingress, output commands and their effects, policy, status.
export { PluginService, COMMAND_REJECTED, STATE_RESTORED } from './service/plugin-service.js';
export type { ServiceEffects, ServiceDiagnostic, StopReport, DeadLetter, DomainEvent, WebSocketCommands, DiscardCounters, DispatchCounters, EnqueueOutcome } from './service/plugin-service.js';
export { LIFECYCLE_STATES, TRANSITIONS } from './service/lifecycle.js';
export type { LifecycleState } from './service/lifecycle.js';
export type { LastEvent, RefusalReason, BatchCounters } from './service/ingress-dispatcher.js';
export type { DropPolicy } from './service/ingress-queue.js';
export type { TimerStatus } from './service/timers.js';
export type { CommandResult, CommandStatus } from './commands/envelope.js';
export { SERVICE_EVENT_KINDS } from './service/service-events.js';
export type { ServiceEvent, ServiceEventHook, ServiceEventKind } from './service/service-events.js';
export { systemClock } from './service/clock.js';
export type { Clock } from './service/clock.js';
export { DEFAULT_SERVICE_POLICY } from './service/policy.js';
export type { ServicePolicy } from './service/policy.js';
export { newIngressEvent } from './service/ingress-event.js';
export type { IngressEvent } from './service/ingress-event.js';
export { STATE_LIMITS } from './commands/batch.js';
export { DEFAULT_CONNECTION_POLICY } from './websocket/policy.js';
export type { ConnectionPolicy } from './websocket/policy.js';
export type { PluginStatus, ConnectionStatus } from './status/status.js';

// Journal: durable events, outbox, state, timers and dead letters, with three engines.
export { DEFAULT_JOURNAL_LIMITS, JOURNAL_KEY_MAX_BYTES, JournalWriteError, JournalRejectedError } from './journal/journal.js';
export { JOURNAL_ERROR_CODES } from './journal/error-codes.js';
export type { JournalErrorCode } from './journal/error-codes.js';
export type * from './journal/journal.js';
export type { JournalCore, JournalCoreOptions } from './journal/journal-core.js';
export { MemoryJournal } from './journal/memory-journal.js';
export { LmdbJournal, openLmdbJournal, journalDir } from './journal/lmdb-journal.js';
export type { LmdbJournalOptions } from './journal/lmdb-journal.js';
export { JetStreamJournal, openJetStreamJournal, MIN_NATS_SERVER, JOURNAL_CONFLICT, JOURNAL_FENCED, JOURNAL_UNCONFIRMED } from './journal/jetstream-journal.js';
export type { JetStreamJournalOptions, JetStreamLogStats } from './journal/jetstream-journal.js';
