import { boundText } from '../diagnostics.js';
import { Command, CommanderError, Option } from 'commander';
import { runCheck, runPack } from './commands/check.js';
import { runDisable, runEnable, type EnableOptions } from './commands/enable.js';
import { runList, runShow } from './commands/inspect.js';
import { runCall, type CallOptions } from './commands/call.js';
import { runMcp } from './commands/mcp.js';
import { runServe, type ServeCliOptions } from './commands/serve.js';
import { runStatus } from './commands/status.js';
import { runDlq, type DlqOptions } from './commands/dlq.js';
import { runBuild, runNew } from './commands/authoring.js';
import { runDemo } from './commands/demo.js';
import { CommandFailure, UsageError, type CliIo } from './io.js';
import type { CommonOptions } from './options.js';
import { escapeTerminal, MESSAGE_LINE_BOUND } from './terminal.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const workspaceOption = () => new Option('--workspace <dir>', 'workspace root (default: the current directory)');
const jsonOption = () => new Option('--json', 'print stable JSON instead of text');

function buildProgram(io: CliIo): Command {
  const program = new Command('yoi')
    .description('Yoi Plugins: sandboxed WebAssembly component plugins for agent runtimes')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .showHelpAfterError('(run with --help for usage)');

  const plugin = program
    .command('plugin')
    .description('inspect, package and enable plugins')
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const sub = (name: string) =>
    plugin.command(name).exitOverride().configureOutput({ writeOut: io.stdout, writeErr: io.stderr }).showHelpAfterError('(run with --help for usage)');

  sub('new')
    .description('create a plugin from a template (ts-tool, ts-service) in an empty or new directory')
    .argument('<template>', 'ts-tool | ts-service')
    .argument('<dir>', 'destination directory (must not exist, or be empty)')
    .addOption(jsonOption())
    .action((template: string, dir: string, options: { json?: boolean }) => runNew(io, template, dir, options));

  sub('build')
    .description('bundle src/plugin.ts with esbuild and build the component (QuickJS) the manifest names; skipped when unchanged')
    .argument('[dir]', 'plugin directory (default: .)')
    .option('--force', 'rebuild even when nothing changed')
    .addOption(jsonOption())
    .action((dir: string | undefined, options: { json?: boolean; force?: boolean }) => runBuild(io, dir, options));

  sub('check')
    .description('validate a plugin directory or .yoi-plugin archive without executing it (exit 1 when rejected)')
    .argument('<path>', 'plugin directory or .yoi-plugin file')
    .addOption(jsonOption())
    .action((path: string, options: { json?: boolean }) => runCheck(io, path, options));

  sub('pack')
    .description('write a deterministic .yoi-plugin archive of a plugin directory')
    .argument('<dir>', 'plugin directory')
    .option('--output <file>', 'archive path (default: <dir>.yoi-plugin beside the directory)')
    .addOption(jsonOption())
    .action((dir: string, options: { json?: boolean; output?: string }) => runPack(io, dir, options));

  sub('list')
    .description('list discovered and enabled plugins with their status (active, partial, disabled, missing, rejected)')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action((options: CommonOptions) => runList(io, options));

  sub('show')
    .description('show one plugin: digests, grants, per-tool/service/ingress/host-API eligibility, diagnostics')
    .argument('<ref>', 'source-qualified ref (project:<id>, user:<id>, builtin:<id>) or a unique bare id')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action((ref: string, options: CommonOptions) => runShow(io, ref, options));

  sub('enable')
    .description('enable a plugin in <workspace>/.yoi/plugins.toml, pinned to its version and digest, with the grants you confirm')
    .argument('<path|ref>', 'plugin directory or .yoi-plugin file (installed into the project store), or a discovered ref')
    .addOption(workspaceOption())
    .option('--grant-all-requested', 'grant every permission and request/websocket target the manifest requests')
    .option('--grant <label>', 'grant one requested permission, e.g. tool.echo or host_api.request (repeatable; host_api.request/websocket also grant the declared targets)', collect)
    .option('--fs <root:ops>', 'grant a folder to the fs host API, e.g. ./notes:read,list (repeatable; needs host_api.fs)', collect)
    .option('--surfaces <list>', 'enable only these surfaces (comma-separated; default: all declared)')
    .option('--config-json <json>', 'configuration passed to the plugin instance start')
    .option('--yes', 'do not ask; required when not running in a terminal')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      '\nExamples:\n  yoi plugin enable ./my-plugin --grant-all-requested --yes\n  yoi plugin enable project:example.echo --grant surfaces.tool --grant tool.echo --yes\n',
    )
    .action((target: string, options: EnableOptions) => runEnable(io, target, options));

  sub('disable')
    .description('remove a plugin from <workspace>/.yoi/plugins.toml (its package stays in the store)')
    .argument('<ref>', 'source-qualified ref, or a unique bare id')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action((ref: string, options: CommonOptions) => runDisable(io, ref, options));

  sub('call')
    .description('run one tool of an enabled plugin in its sandbox and print its ToolOutput (exit 1 on any failure)')
    .argument('<ref>', 'source-qualified plugin ref, e.g. project:example.echo')
    .argument('<tool>', 'tool name')
    .option('--input <json>', 'tool input as JSON (default: {})')
    .option('--input-file <file>', 'read the tool input JSON from a file')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action((ref: string, tool: string, options: CallOptions) => runCall(io, ref, tool, options));

  sub('mcp')
    .description('serve every enabled, eligible tool of the workspace over MCP on stdio (grants cannot be changed through it)')
    .addOption(workspaceOption())
    .action((options: CommonOptions) => runMcp(io, options));

  sub('serve')
    .description('run the workspace: start services, deliver ingress, serve status, metrics, tool calls and dead-letter operations on loopback')
    .addOption(workspaceOption())
    .option('--port <port>', 'loopback port of the control API (default: a free one; see .yoi/serve.json)')
    .action((options: ServeCliOptions) => runServe(io, options));

  sub('status')
    .description('lifecycle, queue, counters, timers, connections and last error of each plugin (from the running serve, else offline)')
    .argument('[ref]', 'one plugin')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action((ref: string | undefined, options: CommonOptions) => runStatus(io, ref, options));

  sub('dlq')
    .description('list, replay or drop the dead letters of a service (through serve when it runs)')
    .argument('<action>', 'list | replay | drop')
    .argument('<ref>', 'source-qualified plugin ref')
    .option('--id <id>', 'a dead letter id (repeatable)', collect)
    .option('--all', 'every dead letter of the plugin')
    .addOption(workspaceOption())
    .addOption(jsonOption())
    .action((action: string, ref: string, options: DlqOptions) => runDlq(io, action, ref, options));

  sub('demo')
    .description('run the builtin Discord-style bot against a local Gateway emulator for a few seconds (loopback only)')
    .option('--messages <n>', 'messages to send (default 5)')
    .addOption(jsonOption())
    .action((options: { messages?: string; json?: boolean }) => runDemo(io, options));

  return program;
}

/** Runs the CLI in-process and returns the exit code: 0 ok, 1 failure, 2 usage error. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
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
      return EXIT_USAGE;
    }
    // Messages quote refs, labels, tool names and guest errors: escaped like every human line.
    if (error instanceof UsageError) {
      io.stderr(`yoi: ${escapeTerminal(error.message, { limit: MESSAGE_LINE_BOUND })}\n(run with --help for usage)\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CommandFailure) {
      io.stderr(`yoi plugin: ${escapeTerminal(error.message, { limit: MESSAGE_LINE_BOUND })}\n`);
      return EXIT_FAILURE;
    }
    io.stderr(`yoi plugin: unexpected error: ${escapeTerminal(boundText(error instanceof Error ? error.message : String(error)))}\n`);
    return EXIT_FAILURE;
  }
}
