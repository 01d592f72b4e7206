import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type * as TypeScript from 'typescript';

type Compiler = typeof TypeScript;

/**
 * `yoi plugin build`'s type check: the TypeScript compiler (`noEmit`) over the plugin's
 * sources, before anything is bundled, with errors at `src/plugin.ts:line:col`. The plugin's
 * own `tsconfig.json` is used when there is one (its compiler options and files); otherwise
 * the options the templates ship. Either way `@yoi-plugins/pdk` is the PDK this host bundles,
 * and the `yoi:host/*` interfaces are declared, so what is checked is what is built.
 */

export interface TypeCheckResult {
  /** `path:line:col: error TSnnnn: message` lines, relative to the plugin folder (bounded). */
  readonly errors: readonly string[];
  /** How many errors there were (more than `errors` holds when they were cut). */
  readonly count: number;
  readonly files: number;
}

const MAX_REPORTED_ERRORS = 20;

/** Declarations of the host interfaces, for a plugin that imports them directly. */
const HOST_INTERFACES_DTS = `
declare module 'yoi:host/request@1.0.0' {
  export function request(requestJson: string): string;
}
declare module 'yoi:host/fs@1.0.0' {
  export function read(requestJson: string): string;
  export function list(requestJson: string): string;
  export function write(requestJson: string): string;
}
declare module 'yoi:host/websocket@1.0.0' {
  export function open(requestJson: string): string;
  export function sendText(handle: number, text: string): string;
  export function recv(handle: number, timeoutMs: number): string;
  export function close(handle: number): string;
}
`;

/** The compiler options of the templates' tsconfig.json (a guest has ES2022 and nothing of Node or the DOM). */
function templateOptions(ts: Compiler): TypeScript.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts'],
    types: [],
    strict: true,
    isolatedModules: true,
    skipLibCheck: true,
  };
}

function format(ts: Compiler, dir: string, d: TypeScript.Diagnostic): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n    ');
  if (!d.file || d.start === undefined) return `error TS${d.code}: ${message}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  const where = relative(dir, d.file.fileName).split(sep).join('/');
  return `${where}:${line + 1}:${character + 1}: error TS${d.code}: ${message}`;
}

/**
 * What a long-running caller (`yoi plugin dev`) keeps between checks: the last program (its
 * builder keeps the diagnostics of files that did not change) and the parsed files by path
 * and text, so a re-check after an edit parses and checks only what the edit touched.
 */
export interface TypeCheckSession {
  builder?: TypeScript.SemanticDiagnosticsBuilderProgram;
  readonly files: Map<string, { readonly text: string; readonly file: TypeScript.SourceFile }>;
}

export function createTypeCheckSession(): TypeCheckSession {
  return { files: new Map() };
}

export async function typeCheckPlugin(dir: string, entry: string, pdkDir: string, session?: TypeCheckSession): Promise<TypeCheckResult> {
  // typescript is CommonJS: its namespace is the default export under ESM.
  const ts = (await import('typescript')).default as unknown as Compiler;
  const configPath = join(dir, 'tsconfig.json');
  let options: TypeScript.CompilerOptions = templateOptions(ts);
  let rootNames = [join(dir, entry)];
  const configErrors: TypeScript.Diagnostic[] = [];
  if (existsSync(configPath)) {
    const read = ts.readConfigFile(configPath, (path) => ts.sys.readFile(path));
    if (read.error) configErrors.push(read.error);
    else {
      const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dir, undefined, configPath);
      // "No inputs were found" (TS18003): the entry is checked anyway.
      configErrors.push(...parsed.errors.filter((e) => e.code !== 18003));
      options = parsed.options;
      if (parsed.fileNames.length > 0) rootNames = [...new Set([join(dir, entry), ...parsed.fileNames])];
    }
  }
  const envFile = join(dir, '__yoi_host_interfaces__.d.ts');
  const pdk = (name: string) => [join(pdkDir, `${name}.d.ts`)];
  options = {
    ...options,
    noEmit: true,
    composite: false,
    incremental: false,
    declaration: false,
    emitDeclarationOnly: false,
    paths: { ...options.paths, '@yoi-plugins/pdk': pdk('index'), '@yoi-plugins/pdk/request': pdk('request'), '@yoi-plugins/pdk/fs': pdk('fs') },
  };
  delete options.tsBuildInfoFile;
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (path) => path === envFile || fileExists.call(host, path);
  host.readFile = (path) => (path === envFile ? HOST_INTERFACES_DTS : readFile.call(host, path));
  host.getSourceFile = (path, language, onError, create) => {
    if (!session) return path === envFile ? ts.createSourceFile(path, HOST_INTERFACES_DTS, language) : getSourceFile.call(host, path, language, onError, create);
    const text = path === envFile ? HOST_INTERFACES_DTS : readFile.call(host, path);
    if (text === undefined) return undefined;
    const kept = session.files.get(path);
    if (kept?.text === text) return kept.file;
    const file = ts.createSourceFile(path, text, language);
    // The builder tells changed files by their version.
    (file as { version?: string }).version = createHash('sha256').update(text).digest('hex');
    session.files.set(path, { text, file });
    return file;
  };
  let program: TypeScript.Program;
  let diagnostics: TypeScript.Diagnostic[];
  if (session) {
    program = ts.createProgram({ rootNames: [...rootNames, envFile], options, host, ...(session.builder ? { oldProgram: session.builder.getProgram() } : {}) });
    const builder = ts.createSemanticDiagnosticsBuilderProgram(program, host, session.builder);
    session.builder = builder;
    diagnostics = [...configErrors, ...builder.getOptionsDiagnostics(), ...builder.getGlobalDiagnostics(), ...builder.getSyntacticDiagnostics(), ...builder.getSemanticDiagnostics()];
  } else {
    program = ts.createProgram({ rootNames: [...rootNames, envFile], options, host });
    diagnostics = [...configErrors, ...ts.getPreEmitDiagnostics(program)];
  }
  diagnostics = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  return {
    errors: diagnostics.slice(0, MAX_REPORTED_ERRORS).map((d) => format(ts, dir, d)),
    count: diagnostics.length,
    files: program.getSourceFiles().filter((f) => !f.fileName.includes('/node_modules/') && f.fileName !== envFile && !f.fileName.startsWith(pdkDir)).length,
  };
}
