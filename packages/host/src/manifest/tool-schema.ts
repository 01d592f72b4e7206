import { describeKey } from './toml-reader.js';
import type { JsonValue, Manifest } from './types.js';
import { toolNameProblem } from './ids.js';

const ALLOWED_KEYWORDS = new Set(['type', 'title', 'description', 'properties', 'required', 'additionalProperties', 'items', 'enum']);
const ALLOWED_TYPES = new Set(['object', 'array', 'string', 'number', 'integer', 'boolean', 'null']);

type JsonObject = { readonly [key: string]: JsonValue };

function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks a tool `input_schema` against Yoi's restricted JSON-Schema subset. Returns the first
 * problem as `<path>: <reason>` (paths use `$`, `.properties.<name>`, `.items`,
 * `.additionalProperties`), or null when the schema is acceptable.
 */
export function inputSchemaProblem(schema: JsonValue): string | null {
  if (!isObject(schema)) return '$: root schema must be an object';
  if (schema['type'] === undefined) return '$: root schema must declare type = `object`';
  if (schema['type'] !== 'object') return '$: root schema type must be `object`';
  return nodeProblem(schema, '$');
}

function nodeProblem(node: JsonValue, path: string): string | null {
  if (!isObject(node)) return `${path}: schema node must be an object`;
  for (const key of Object.keys(node)) {
    if (!ALLOWED_KEYWORDS.has(key)) return `${path}: unsupported schema keyword ${describeKey(key)}`;
  }
  const type = node['type'];
  if (type === undefined) return `${path}: schema node must declare type`;
  if (typeof type !== 'string' || !ALLOWED_TYPES.has(type)) return `${path}: schema type must be one of ${[...ALLOWED_TYPES].join(', ')}`;
  for (const key of ['title', 'description']) {
    if (node[key] !== undefined && typeof node[key] !== 'string') return `${path}: \`${key}\` must be a string`;
  }
  const properties = node['properties'];
  if (properties !== undefined) {
    if (type !== 'object') return `${path}: \`properties\` is only allowed on objects`;
    if (!isObject(properties)) return `${path}: \`properties\` must be an object`;
    for (const [name, child] of Object.entries(properties)) {
      const problem = nodeProblem(child, `${path}.properties.${safeSegment(name)}`);
      if (problem) return problem;
    }
  }
  const required = node['required'];
  if (required !== undefined) {
    if (type !== 'object') return `${path}: \`required\` is only allowed on objects`;
    if (!Array.isArray(required) || !required.every((r) => typeof r === 'string')) return `${path}: \`required\` must be an array of strings`;
    if (new Set(required).size !== required.length) return `${path}: \`required\` entries must be unique`;
    if (isObject(properties)) {
      const missing = (required as string[]).find((r) => !Object.hasOwn(properties, r));
      if (missing !== undefined) return `${path}: required property ${describeKey(missing)} is not declared in \`properties\``;
    }
  }
  const additional = node['additionalProperties'];
  if (additional !== undefined) {
    if (type !== 'object') return `${path}: \`additionalProperties\` is only allowed on objects`;
    if (typeof additional !== 'boolean') {
      const problem = nodeProblem(additional, `${path}.additionalProperties`);
      if (problem) return problem;
    }
  }
  const items = node['items'];
  if (items !== undefined) {
    if (type !== 'array') return `${path}: \`items\` is only allowed on arrays`;
    const problem = nodeProblem(items, `${path}.items`);
    if (problem) return problem;
  }
  const enumValues = node['enum'];
  if (enumValues !== undefined) {
    if (!Array.isArray(enumValues) || enumValues.length === 0) return `${path}: \`enum\` must be a non-empty array`;
    const seen = new Set(enumValues.map(canonicalJson));
    if (seen.size !== enumValues.length) return `${path}: \`enum\` entries must be unique`;
  }
  return null;
}

/** JSON text with object keys sorted, so equal values (Yoi compares values) give equal text. */
function canonicalJson(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function safeSegment(name: string): string {
  return /^[A-Za-z0-9_-]{1,64}$/.test(name) ? name : '<property>';
}

/** Per-tool definition problems (duplicate name, invalid name, invalid schema), keyed by tool index. */
export function toolDefinitionProblems(manifest: Manifest): string[][] {
  const counts = new Map<string, number>();
  for (const tool of manifest.tools) counts.set(tool.name, (counts.get(tool.name) ?? 0) + 1);
  return manifest.tools.map((tool) => {
    const problems: string[] = [];
    const label = displayToolName(tool.name);
    if ((counts.get(tool.name) ?? 0) > 1) problems.push(`tool ${label} has duplicate name within plugin manifest`);
    const nameProblem = toolNameProblem(tool.name);
    if (nameProblem) problems.push(`tool ${label} has invalid name: ${nameProblem}`);
    const schemaProblem = inputSchemaProblem(tool.input_schema);
    if (schemaProblem) problems.push(`tool ${label} has invalid input_schema: ${schemaProblem}`);
    return problems;
  });
}

function displayToolName(name: string): string {
  // eslint-disable-next-line no-control-regex
  const flat = name.replace(/[\s\u0000-\u001f\u007f-\u009f]/g, ' ');
  return `\`${flat.length > 64 ? flat.slice(0, 64) + '…' : flat}\``;
}
