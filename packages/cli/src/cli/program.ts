import { readFileSync } from 'node:fs';
import { boundText } from '@yoi-plugins/host/internal/diagnostics.js';
import { Command, CommanderError, Option } from 'commander';
// Commands are imported when they run: each pulls in only what it needs (the MCP SDK, the
// HTTP server and metrics, esbuild, …), so a cold `yoi plugin call` loads none of the others.
import type { EnableOptions } from './commands/enable.js';
import type { CallOptions } from './commands/call.js';
import type { ServeCliOptions } from './commands/serve.js';
import type { DlqOptions } from './commands/dlq.js';
import type { LogsOptions } from './commands/logs.js';
import type { DevOptions } from './commands/dev.js';
import { CommandFailure, printJson, UsageError, type CliIo, type FailureCode } from './io.js';
import type { CommonOptions } from './options.js';
import { escapeTerminal, MESSAGE_LINE_BOUND } from './terminal.js';
import { favourShortGuestRuns } from './wasm-tiering.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** The host package's version (`yoi --version`). */
export const CLI_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** What is known about the invocation when it fails: which command, and whether it wants JSON. */
interface Invocation {
  command: string | null;
  json: boolean;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const workspaceOption = () => new Option('--workspace <dir>', 'workspace root (default: the current directory)');
const jsonOption = () => new Option('--json', 'print stable JSON instead of text');

function buildProgram(io: CliIo, invocation: Invocation): Command {
  const program = new Command('yoi')
    .description('Yoi Plugins: sandboxed WebAssembly component plugins for agent runtimes')
    .version(CLI_VERSION, '-V, --version', 'print the version of yoi')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  const plugin = program
    .command('plugin')
    .description('inspect, package and enable plugins')
    .version(CLI_VERSION, '-V, --version', 'print the version of yoi')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  program.hook('preAction', (_root, action) => {
    invocation.command = action.name();
    invocation.json = (action.opts() as { json?: boolean }).json === true;
  });

  const sub = (name: string) =>
    plugin.command(name).exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).showHelpAfterError('(run with --help for usage)');

  sub('new')
    .description('create a plugin from a template (ts-tool, ts-service) in an empty or new directory')
    .argument('<template>', 'ts-tool | ts-service')
    .argument('<dir>', 'destination directory (must not exist, or be empty)')
    .addOption(jsonOption())
    .action(async (template: string, dir: string, options: { json?: boolean }) => (await import('./commands/authoring.js')).runNew(io, template, dir, options));

  sub('build')
    .description('type-check src/plugin.ts (tsc), bundle it with esbuild and build the component (QuickJS) the manifest names; skipped when unchanged')
    .argument('[dir]', 'plugin directory (default: .)')
    .option('--force', 'type-check and rebuild even when nothing changed')
    .addOption(jsonOption())
    .action(async (dir: string | undefined, options: { json?: boolean; force?: boolean }) => (await import('./commands/authoring.js')).runBuild(io, dir, options));

  sub('dev')
    .description('watch a plugin directory: on every change build (with type check), check, re-pin (never granting anything new) and hot-reload it into the running serve')
    .argument('[dir]', 'plugin directory (default: .)')
    .addOption(workspaceOption())
    .option('--once', 'one build → pin → reload turn, then exit')
    .addOption(jsonOption())
    .addHelpText('after', '\nA rebuild that requests nothing new is re-pinned silently; a new request stops the loop (in a terminal,\n`enable` asks about it first); a type error writes, pins and reloads nothing. Edits after the first turn\nswap the bundle into a cached dev loader component (run `yoi plugin build` before shipping).\nStart `yoi plugin serve --workspace WS` beside it to see changes live.\n')
    .action(async (dir: string | undefined, options: DevOptions) => (await import('./commands/dev.js')).runDev(io, dir, options));

  sub('check')
    .description('validate a plugin directory or .yoi-plugin archive without executing it (exit 1 when rejected)')
    .argument('<path>', 'plugin directory or .yoi-plugin file')
    .addOption(jsonOption())
    .action(async (path: string, options: { json?: boolean }) => (await import('./commands/check.js')).runCheck(io, path, options));

  sub('pack')
    .description('write a deterministic .yoi-plugin archive of a plugin directory')
    .argument('<dir>', 'plugin directory')
    .option('--output <file>', 'archive path (default: <dir>.yoi-plugin beside the directory)')
    .addOption(jsonOption())
    .action(async (dir: string, options: { json?: boolean; output?: string }) => (await import('./commands/check.js')).runPack(io, dir, options));

  sub('list')
    .description('list discovered and enabled plugins with their status (active, partial, disabled, missing, rejected)')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (options: CommonOptions) => (await import('./commands/inspect.js')).runList(io, options));

  sub('show')
    .description('show one plugin: digests, grants, per-tool/service/ingress/host-API eligibility, diagnostics')
    .argument('<ref>', 'source-qualified ref (project:<id>, user:<id>, builtin:<id>) or a unique bare id')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (ref: string, options: CommonOptions) => (await import('./commands/inspect.js')).runShow(io, ref, options));

  sub('enable')
    .description('enable a plugin in <workspace>/.yoi/plugins.toml, pinned to its version and digest, with the grants you confirm')
    .argument('<path|ref>', 'plugin directory or .yoi-plugin file (installed into the project store), or a discovered ref')
    .addOption(workspaceOption())
    .option('--grant-all-requested', 'grant every permission and request/websocket target the manifest requests')
    .option('--grant <label>', 'grant one requested permission, e.g. tool.echo or host_api.request (repeatable; host_api.request/websocket also grant the declared targets)', collect)
    .option('--revoke <label>', 'take back a permission granted before, e.g. tool.echo (repeatable; host_api.* also removes its targets)', collect)
    .option('--fs <root:ops>', 'grant an existing folder to the fs host API, e.g. ./notes:read,list (relative to the workspace; repeatable; needs host_api.fs)', collect)
    .option('--limit <key=value>', 'set a limit of [plugins.enabled.limits]: tool_timeout_ms, lifecycle_timeout_ms, ingress_timeout_ms, memory_mib (repeatable)', collect)
    .option('--surfaces <list>', 'enable only these surfaces (comma-separated; default: all declared)')
    .option('--config-json <json>', 'configuration passed to the plugin instance start')
    .option('--yes', 'do not ask; required when not running in a terminal (alone it grants nothing new)')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nEnabling a plugin that is enabled already (a rebuild or a new version) keeps its config, limits,\ncomments and the grants of requests that remain, shows what the new package requests that the old\none did not, and asks only about that.\n\nExamples:\n  yoi plugin enable ./my-plugin --grant-all-requested --yes\n  yoi plugin enable project:example.echo --grant surfaces.tool --grant tool.echo --yes\n  yoi plugin enable ./my-plugin --yes                      # re-pin a rebuild; grants nothing new\n  yoi plugin enable ./my-plugin --limit tool_timeout_ms=30000 --yes\n',
    )
    .action(async (target: string, options: EnableOptions) => (await import('./commands/enable.js')).runEnable(io, target, options));

  sub('disable')
    .description('remove a plugin from <workspace>/.yoi/plugins.toml (its package stays in the store)')
    .argument('<ref>', 'source-qualified ref, or a unique bare id')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (ref: string, options: CommonOptions) => (await import('./commands/enable.js')).runDisable(io, ref, options));

  sub('call')
    .description('run one tool of an enabled plugin and print its ToolOutput: through the running serve when there is one, else in-process (exit 1 on any failure)')
    .argument('<ref>', 'source-qualified plugin ref, e.g. project:example.echo')
    .argument('<tool>', 'tool name')
    .option('--input <json>', 'tool input as JSON (default: {})')
    .option('--input-file <file>', 'read the tool input JSON from a file')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (ref: string, tool: string, options: CallOptions) => {
      favourShortGuestRuns();
      return (await import('./commands/call.js')).runCall(io, ref, tool, options);
    });

  sub('mcp')
    .description("serve the workspace's tools over MCP on stdio: the running serve's (live services) when it runs, else in-process (grants cannot be changed through it); re-checked before every request, so serve starting or stopping later is followed")
    .addOption(workspaceOption())
    .action(async (options: CommonOptions) => (await import('./commands/mcp.js')).runMcp(io, options));

  sub('serve')
    .description('run the workspace: start services, deliver ingress, serve status, metrics, tool calls and dead-letter operations on loopback')
    .addOption(workspaceOption())
    .option('--port <port>', 'loopback port of the control API (default: a free one; see .yoi/serve.json)')
    .option('--engine <engine>', 'where accepted work is kept: lmdb (default) or nats://HOST:PORT shared by several serve hosts (docs/scale-out.md)')
    .option('--host-id <id>', "this host's id among the serve hosts of the workspace (default <hostname>-<pid>)")
    .option('--log-format <format>', 'json (JSON lines) or text (one readable line each); default: text when stderr is a terminal, else json')
    .action(async (options: ServeCliOptions) => (await import('./commands/serve.js')).runServe(io, options));

  sub('status')
    .description('lifecycle, queue, counters, timers, connections and last error of each plugin (from the running serve, else offline)')
    .argument('[ref]', 'one plugin')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (ref: string | undefined, options: CommonOptions) => (await import('./commands/status.js')).runStatus(io, ref, options));

  sub('dlq')
    .description('list, replay or drop the dead letters of a service (through serve when it runs)')
    .argument('<action>', 'list | replay | drop')
    .argument('<ref>', 'source-qualified plugin ref')
    .option('--id <id>', 'a dead letter id (repeatable)', collect)
    .option('--all', 'every dead letter of the plugin')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (action: string, ref: string, options: DlqOptions) => (await import('./commands/dlq.js')).runDlq(io, action, ref, options));

  sub('logs')
    .description("print a plugin's guest output (its bounded log) from the running serve; --follow keeps reading. Without serve: what the last serve wrote to .yoi/logs/")
    .argument('<ref>', 'source-qualified plugin ref')
    .option('--follow', 'keep printing new lines until serve stops or Ctrl-C (with --json: one JSON document per line)')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action(async (ref: string, options: LogsOptions) => (await import('./commands/logs.js')).runLogs(io, ref, options));

  sub('demo')
    .description('run the builtin Discord-style bot against a local Gateway emulator for a few seconds (loopback only)')
    .option('--messages <n>', 'messages to send (default 5)')
    .addOption(jsonOption())
    .action(async (options: { messages?: string; json?: boolean }) => (await import('./commands/demo.js')).runDemo(io, options));

  return program;
}

/** Before commander has parsed anything: the verb and `--json`, read from the raw arguments. */
function guessInvocation(argv: readonly string[]): Invocation {
  const end = argv.indexOf('--');
  const args = end < 0 ? argv : argv.slice(0, end);
  const command = args[0] === 'plugin' && args[1] !== undefined && !args[1].startsWith('-') ? args[1] : null;
  return { command, json: args.includes('--json') };
}

/** The JSON document of a failed command: `{command, status: "error", error: {code, message}}` plus details. */
function printFailure(io: CliIo, invocation: Invocation, code: FailureCode, message: string, details: Record<string, unknown> = {}): void {
  if (!invocation.json) return;
  printJson(io, { command: invocation.command, status: 'error', ...details, error: { code, message } });
}

/** Runs the CLI in-process and returns the exit code: 0 ok, 1 failure, 2 usage error. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const invocation = guessInvocation(argv);
  const program = buildProgram(io, invocation);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return EXIT_USAGE;
    }
    await program.parseAsync([...argv], { from: 'user' });
    return EXIT_OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
      if (error.code === 'commander.help' && error.exitCode === 0) return EXIT_OK; // `yoi help …`
      // commander already printed its message
      printFailure(io, invocation, 'usage', boundText(error.message.replace(/^error: /, '')));
      return EXIT_USAGE;
    }
    // Messages quote refs, labels, tool names and guest errors: escaped like every human line.
    if (error instanceof UsageError) {
      io.stderr(`yoi: ${escapeTerminal(error.message, { limit: MESSAGE_LINE_BOUND })}\n(run with --help for usage)\n`);
      printFailure(io, invocation, 'usage', error.message);
      return EXIT_USAGE;
    }
    if (error instanceof CommandFailure) {
      io.stderr(`yoi plugin: ${escapeTerminal(error.message, { limit: MESSAGE_LINE_BOUND })}\n`);
      for (const line of error.options.lines ?? []) io.stderr(`  ${escapeTerminal(line, { limit: MESSAGE_LINE_BOUND })}\n`);
      if (!error.options.reported) printFailure(io, invocation, error.code, error.message, error.options.details);
      return EXIT_FAILURE;
    }
    const message = boundText(error instanceof Error ? error.message : String(error));
    io.stderr(`yoi plugin: unexpected error: ${escapeTerminal(message)}\n`);
    printFailure(io, invocation, 'internal', `unexpected error: ${message}`);
    return EXIT_FAILURE;
  }
}
