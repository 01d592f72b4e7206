import { diagnostic, fail, ok, type Outcome } from '../diagnostics.js';
import { PACKAGE_LIMITS } from '../package/limits.js';
import { readPermissions, readRequestTarget, readWebSocketTarget } from './read-shared.js';
import { parseTomlText, SchemaError, TableReader } from './toml-reader.js';
import { SURFACES, type IngressDecl, type Manifest, type ServiceDecl, type ToolDecl } from './types.js';

/** The manifest's file name at a package's root. */
const MANIFEST_FILE_NAME = 'plugin.toml';
export { MANIFEST_FILE_NAME };

/**
 * Parses `plugin.toml` bytes into the typed model (size bound, UTF-8, TOML, strict schema).
 * Semantic rules (ids, runtime, worlds, paths) are checked by `validateManifest`.
 * Errors never echo file contents or the TOML parser's own text.
 */
export function parseManifest(bytes: Uint8Array): Outcome<Manifest> {
  if (bytes.byteLength > PACKAGE_LIMITS.maxManifestBytes) {
    return fail(diagnostic('bounds', 'manifest', 'plugin.toml exceeds the configured manifest size bound'));
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail(diagnostic('malformed', 'manifest', 'plugin.toml is not valid UTF-8'));
  }
  const parsed = parseTomlText(text);
  if (!parsed.ok) {
    const where = parsed.line !== undefined ? ` near line ${parsed.line} column ${parsed.column ?? 0}` : '';
    return fail(diagnostic('malformed', 'manifest', `plugin.toml could not be parsed${where}`));
  }
  try {
    return ok(readManifest(parsed.value));
  } catch (error) {
    if (error instanceof SchemaError) {
      return fail(diagnostic('malformed', 'manifest', `plugin.toml could not be parsed: ${error.message}`));
    }
    return fail(diagnostic('malformed', 'manifest', 'plugin.toml could not be parsed'));
  }
}

function readManifest(document: unknown): Manifest {
  const r = new TableReader(document, '');
  const description = r.optionalString('description');
  const runtime = r.table('runtime', (t) => {
    const kind = t.string('kind');
    const entry = t.optionalString('entry');
    const abi = t.optionalString('abi');
    const component = t.optionalString('component');
    const world = t.optionalString('world');
    return {
      kind,
      ...(entry !== undefined ? { entry } : {}),
      ...(abi !== undefined ? { abi } : {}),
      ...(component !== undefined ? { component } : {}),
      ...(world !== undefined ? { world } : {}),
    };
  });
  const manifest: Manifest = {
    schema_version: r.requiredInteger('schema_version', 0, 0xffff_ffff),
    id: r.string('id'),
    name: r.string('name'),
    version: r.string('version'),
    ...(description !== undefined ? { description } : {}),
    surfaces: r.enumArray('surfaces', SURFACES),
    ...(runtime !== undefined ? { runtime } : {}),
    hooks: r.tableArray('hooks', (t) => ({ id: t.string('id'), file: t.string('file') })),
    tools: r.tableArray('tools', readTool),
    services: r.tableArray('services', readService),
    ingresses: r.tableArray('ingresses', readIngress),
    permissions: readPermissions(r, 'permissions'),
    request: r.tableArray('request', readRequestTarget),
    websocket: r.tableArray('websocket', readWebSocketTarget),
  };
  r.done();
  return manifest;
}

function readTool(t: TableReader): ToolDecl {
  const input_schema = t.json('input_schema');
  if (input_schema === undefined) throw new SchemaError(`missing required key \`${t.keyPath('input_schema')}\``);
  return { name: t.string('name'), description: t.string('description'), input_schema, external_write: t.boolean('external_write', false) };
}

function readService(t: TableReader): ServiceDecl {
  const status_schema = t.json('status_schema');
  return {
    name: t.string('name'),
    description: t.string('description'),
    lifecycle: t.optionalString('lifecycle') ?? '',
    ...(status_schema !== undefined ? { status_schema } : {}),
    side_effects: t.stringArray('side_effects'),
  };
}

function readIngress(t: TableReader): IngressDecl {
  const input_schema = t.json('input_schema');
  return {
    name: t.string('name'),
    description: t.string('description'),
    event_kinds: t.stringArray('event_kinds'),
    ...(input_schema !== undefined ? { input_schema } : {}),
    sources: t.stringArray('sources'),
    side_effects: t.stringArray('side_effects'),
  };
}
