// Diagnostics: the shared, bounded, redacted diagnostic model.
export { boundText, redactText, DIAGNOSTIC_KINDS, DIAGNOSTIC_PHASES } from './diagnostics.js';
export type { Diagnostic, DiagnosticKind, DiagnosticPhase, SourceKind, Outcome } from './diagnostics.js';

// Manifest: plugin.toml → typed model.
export { parseManifest, MANIFEST_FILE_NAME } from './manifest/parse.js';
export { validateManifest } from './manifest/validate.js';
export { inputSchemaProblem, toolDefinitionProblems } from './manifest/tool-schema.js';
export { isSafeId, parsePluginRef, formatPluginRef, toolNameProblem } from './manifest/ids.js';
export { declaredSurfaces, SURFACES, HOST_APIS, COMPONENT_WORLDS, TOOL_WORLD, INSTANCE_WORLD } from './manifest/types.js';
export type * from './manifest/types.js';
export type { PluginRef } from './manifest/ids.js';

// Packages: .yoi-plugin archives, directories, digests, pack.
export { PACKAGE_LIMITS } from './package/limits.js';
export type { PackageFiles } from './package/limits.js';
export { computePackageDigest, digestMatches } from './package/digest.js';
export { readZipArchive } from './package/zip-read.js';
export { writeZipArchive } from './package/zip-write.js';
export { readPackageFile } from './package/archive-file.js';
export { readPluginDirectory, AUTHORING_IGNORED_DIRECTORIES, AUTHORING_IGNORED_FILES } from './package/directory.js';
export { loadPluginPackage } from './package/plugin-package.js';
export type { PluginPackage } from './package/plugin-package.js';
export { packPluginDirectory, defaultPackOutput } from './package/pack.js';
export { detectComponentFormat } from './package/component-format.js';
export type { ComponentFormat } from './package/component-format.js';

// Stores, discovery, enablement, resolution.
export { storeLocations, userStoreDir, projectStoreDir, enablementFile } from './store/locations.js';
export type { StoreLocation, StoreOptions } from './store/locations.js';
export { discoverPlugins } from './store/discover.js';
export type { DiscoveredPackage, Discovery } from './store/discover.js';
export { parseEnablementConfig } from './store/enablement.js';
export type { EnablementConfig, EnablementEntry, Grants, FsGrant, FsOperation } from './store/enablement.js';
export { resolveEnabledPlugins, grantBindingProblem } from './store/resolve.js';
export type { ResolvedPlugin, Resolution } from './store/resolve.js';
export { loadWorkspace } from './store/workspace.js';
export type { WorkspaceState } from './store/workspace.js';
export { upsertEnablement, removeEnablement } from './store/enablement-edit.js';
export { installIntoProjectStore } from './store/install.js';

// Authority: the predicates every run-time check calls.
export {
  authorizeTool,
  authorizeService,
  authorizeIngress,
  authorizeHostApi,
  authorizeRequestTarget,
  authorizeWebSocketTarget,
  fsGrantsFor,
} from './authority/authorize.js';
export type { AuthoritySubject, Denial } from './authority/authorize.js';
export { permissionLabel } from './authority/permissions.js';
export { pathPrefixCovers, parseTargetUrl, requestTargetLabel, websocketTargetLabel } from './authority/targets.js';
export { inspectStatic } from './authority/inspect.js';
export type { StaticInspection, InspectionSubject } from './authority/inspect.js';

// Inventory: what check/list/show report.
export { checkPlugin } from './inventory/check.js';
export type { CheckReport } from './inventory/check.js';
export { inventoryWorkspace, selectItem } from './inventory/snapshot.js';
export type { InventoryItem, InventorySnapshot, ItemStatus } from './inventory/snapshot.js';

// The `yoi` CLI and the authoring tools are another package, `@yoi-plugins/cli`.

// Runtime: run enabled plugins in sandboxes and expose their tools.
export { PluginHost } from './host.js';
export type { DesiredPlugins } from './reload/desired.js';
export type { PluginReloadOutcome, ReloadAction } from './reload/reconcile.js';
export type { PluginHostOptions } from './host.js';
export { PluginRuntime } from './runtime/plugin-runtime.js';
export type { RuntimeOptions, RuntimeState } from './runtime/plugin-runtime.js';
export { ToolRegistry } from './tools/registry.js';
export type { ToolInfo, ToolOrigin, RegistrationIssue } from './tools/registry.js';
export { decodeToolOutput } from './tools/tool-output.js';
export type { ToolOutput } from './tools/tool-output.js';
export { createMcpServer } from './tools/mcp-server.js';
export { PluginError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { DEFAULT_LIMITS, HOST_MAXIMA, IO_LIMITS, effectiveLimits } from './sandbox/limits.js';
export type { ExecutionLimits, LimitOverrides } from './sandbox/limits.js';
export { defaultCacheDir } from './sandbox/transpile-cache.js';
export { enableWasmExtendedConst } from './sandbox/component-loader.js';

// Journal: durable events, outbox, state, timers and dead letters (issue F).
export { DEFAULT_JOURNAL_LIMITS, JOURNAL_KEY_MAX_BYTES, JournalWriteError, JournalRejectedError } from './journal/journal.js';
export type { JournalErrorCode } from './journal/error-codes.js';
export type * from './journal/journal.js';
export { MemoryJournal } from './journal/memory-journal.js';
export { LmdbJournal, openLmdbJournal, journalDir } from './journal/lmdb-journal.js';
export type { LmdbJournalOptions } from './journal/lmdb-journal.js';
export { JetStreamJournal, openJetStreamJournal, MIN_NATS_SERVER, JOURNAL_CONFLICT, JOURNAL_UNCONFIRMED } from './journal/jetstream-journal.js';
export type { JetStreamJournalOptions, JetStreamLogStats } from './journal/jetstream-journal.js';

// Services: lifecycle, ingress dispatch, output commands (issue F).
export { PluginService, COMMAND_REJECTED, STATE_RESTORED } from './service/plugin-service.js';
export type { ServiceOptions, ServiceEffects, StopReport, DeadLetter, DomainEvent, WebSocketCommands, DiscardCounters, DispatchCounters, EnqueueOutcome } from './service/plugin-service.js';
export { LIFECYCLE_STATES, TRANSITIONS } from './service/lifecycle.js';
export type { LifecycleState, Transition } from './service/lifecycle.js';
export type { ServiceEvent, ServiceEventHook, ServiceEventKind } from './service/service-events.js';
export { systemClock } from './service/clock.js';
export type { Clock } from './service/clock.js';
export { DEFAULT_SERVICE_POLICY } from './service/policy.js';
export type { ServicePolicy } from './service/policy.js';
export { newIngressEvent } from './service/ingress-event.js';
export type { IngressEvent } from './service/ingress-event.js';
export { STATE_LIMITS } from './commands/batch.js';
