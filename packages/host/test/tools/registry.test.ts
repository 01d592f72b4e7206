import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PluginError } from '../../src/errors.js';
import { decodeToolOutput } from '../../src/tools/tool-output.js';
import { assemble, componentWat, TOOL_WATS } from '../fixtures/wat.js';
import { pluginWorkspace, watToolManifest } from '../fixtures/workspace.js';
import { pluginRuntimeOf } from '../../src/host.js';
import { rejectsWithCode } from '../helpers.js';

function decodeFails(raw: string, message: RegExp): void {
  assert.throws(
    () => decodeToolOutput(raw),
    (error: unknown) => {
      assert.ok(error instanceof PluginError, `expected a PluginError, got ${String(error)}`);
      assert.equal(error.code, 'TOOL_OUTPUT_INVALID');
      assert.match(error.message, message);
      return true;
    },
  );
}

/** A tool-world component whose `call` always returns `reply` (ASCII, no backslashes). */
function replyWat(reply: string): string {
  return componentWat({
    extra: `(data (i32.const 64) "${reply.replace(/"/g, '\\"')}")`,
    exports: { call: { sig: 'ss_s', body: `(i32.store (i32.const 8) (i32.const 64)) (i32.store (i32.const 12) (i32.const ${Buffer.byteLength(reply)})) (i32.const 8)` } },
  });
}

/** A tool-world manifest with hand-written `[[tools]]` and permissions. */
function manifest(id: string, permissions: string, tools: string): string {
  return `schema_version = 1
id = "${id}"
name = "${id}"
version = "0.1.0"
permissions = [
${permissions}
]

[runtime]
kind = "wasm-component"
component = "plugin.component.wasm"
world = "yoi:plugin/tool@1.0.0"

${tools}
`;
}

const TEXT_SCHEMA = 'input_schema = { type = "object", properties = { text = { type = "string" }, list = { type = "array", items = { type = "integer" } } }, required = ["text"], additionalProperties = false }';

describe('tool registry: listing', () => {
  it('lists name, description, input_schema and origin of every registered tool', async (t) => {
    const ws = pluginWorkspace(t, [
      {
        manifest: manifest(
          'echo',
          '  { kind = "surface", surface = "tool" },\n  { kind = "tool", name = "say" },\n  { kind = "tool", name = "run" },',
          `[[tools]]\nname = "say"\ndescription = "Say something."\n${TEXT_SCHEMA}\n\n[[tools]]\nname = "run"\ndescription = "Run."\ninput_schema = { type = "object" }\n`,
        ),
        component: await assemble(TOOL_WATS.echo),
      },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.deepEqual(host.registrationIssues, []);
    const tools = host.listTools();
    assert.deepEqual(
      tools.map((tool) => tool.name),
      ['say', 'run'],
    );
    const origin = {
      kind: 'plugin',
      plugin_ref: 'project:echo',
      plugin_id: 'echo',
      source: 'project',
      digest: ws.digests['project:echo'],
      package_version: '0.1.0',
      package_api_version: 1,
      surface: 'tool',
    };
    assert.deepEqual(tools[0], {
      name: 'say',
      description: 'Say something.',
      input_schema: {
        type: 'object',
        properties: { text: { type: 'string' }, list: { type: 'array', items: { type: 'integer' } } },
        required: ['text'],
        additionalProperties: false,
      },
      external_write: false,
      origin,
    });
    assert.deepEqual(tools[1], { name: 'run', description: 'Run.', input_schema: { type: 'object' }, external_write: false, origin });
    assert.match(origin.digest ?? '', /^sha256:[0-9a-f]{64}$/);
    // the same through the registry itself, and by plain and qualified name
    assert.deepEqual(host.tools.list(), tools);
    assert.equal(host.tools.get('say'), tools[0]);
    assert.equal(host.tools.get('project:echo/say'), tools[0]);
    assert.equal(host.tools.get('nope'), undefined);
  });

  it('reports a tool-name collision between plugins and keeps the second reachable as <ref>/<name>', async (t) => {
    const ws = pluginWorkspace(t, [
      { manifest: watToolManifest('a.first'), component: await assemble(TOOL_WATS.echo) },
      { manifest: watToolManifest('b.second', { tools: ['run', 'only_b'] }), component: await assemble(replyWat('{"summary":"from b"}')) },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.deepEqual(
      host.listTools().map((tool) => [tool.name, tool.origin.plugin_ref]),
      [
        ['run', 'project:a.first'],
        ['only_b', 'project:b.second'],
      ],
    );
    assert.equal(host.registrationIssues.length, 1);
    const issue = host.registrationIssues[0]!;
    assert.equal(issue.kind, 'collision');
    assert.equal(issue.plugin_ref, 'project:b.second');
    assert.equal(issue.tool, 'run');
    assert.match(issue.message, /duplicate tool `run` from project:b\.second; first registered by project:a\.first/);
    assert.match(issue.message, /project:b\.second\/run/);
    // the plain name is the first plugin's; the qualified names reach each one
    assert.deepEqual(await host.callTool('run', { summary: 'from a' }), { summary: 'from a', content: null });
    assert.deepEqual(await host.callTool('project:a.first/run', { summary: 'a again' }), { summary: 'a again', content: null });
    assert.deepEqual(await host.callTool('project:b.second/run', {}), { summary: 'from b', content: null });
    assert.equal(host.tools.get('project:b.second/run')?.origin.plugin_ref, 'project:b.second');
  });

  it('does not register tools of a plugin whose tool surface is not enabled', async (t) => {
    const ws = pluginWorkspace(t, [
      { manifest: watToolManifest('wasm.only'), component: await assemble(TOOL_WATS.echo), surfaces: ['wasm'] },
      { manifest: watToolManifest('other', { tools: ['other'] }), component: await assemble(TOOL_WATS.echo) },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.ok(host.runtimes.has('project:wasm.only'), 'the plugin itself is resolved');
    assert.deepEqual(host.runtimes.get('project:wasm.only')!.record.enabledSurfaces, ['wasm']);
    assert.deepEqual(
      host.listTools().map((tool) => tool.name),
      ['other'],
    );
    assert.deepEqual(host.registrationIssues, []);
    await rejectsWithCode(host.callTool('run', { summary: 'x' }), 'TOOL_NOT_FOUND', /tool `run` is not registered/);
    await rejectsWithCode(host.callTool('project:wasm.only/run', { summary: 'x' }), 'TOOL_NOT_FOUND');
    // the runtime re-checks the surface itself
    await rejectsWithCode(pluginRuntimeOf(host, 'project:wasm.only')!.callTool('run', '{"summary":"x"}'), 'TOOL_DENIED', /tool surface is not enabled/);
  });
});

describe('tool registry: authority', () => {
  it('does not register a tool whose permission is not granted', async (t) => {
    const ws = pluginWorkspace(t, [
      {
        manifest: watToolManifest('partial', { tools: ['run', 'secret'] }),
        component: await assemble(TOOL_WATS.echo),
        grants: { permissions: [{ kind: 'surface', surface: 'tool' }, { kind: 'tool', name: 'run' }] },
      },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.deepEqual(
      host.listTools().map((tool) => tool.name),
      ['run'],
    );
    assert.equal(host.registrationIssues.length, 1);
    const issue = host.registrationIssues[0]!;
    assert.deepEqual({ kind: issue.kind, plugin_ref: issue.plugin_ref, tool: issue.tool }, { kind: 'denied', plugin_ref: 'project:partial', tool: 'secret' });
    assert.match(issue.message, /granted tool permission/);
    assert.match(issue.message, /plugin project:partial tool secret registration denied: granted tool permission for `secret` is missing/);
    await rejectsWithCode(host.callTool('secret', {}), 'TOOL_NOT_FOUND');
    await rejectsWithCode(host.callTool('project:partial/secret', {}), 'TOOL_NOT_FOUND');
    // the runtime refuses it too (authority is re-checked on every call)
    await rejectsWithCode(pluginRuntimeOf(host, 'project:partial')!.callTool('secret', '{}'), 'TOOL_DENIED', /granted tool permission for `secret` is missing/);
    assert.equal((await host.callTool('run', { summary: 'granted' })).summary, 'granted');
  });

  it('denies every tool when the tool surface permission is not granted', async (t) => {
    const ws = pluginWorkspace(t, [
      {
        manifest: watToolManifest('nosurface', { tools: ['a', 'b'] }),
        component: await assemble(TOOL_WATS.echo),
        grants: { permissions: [{ kind: 'tool', name: 'a' }, { kind: 'tool', name: 'b' }] },
      },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.deepEqual(host.listTools(), []);
    assert.deepEqual(
      host.registrationIssues.map((i) => [i.tool, i.kind]),
      [
        ['a', 'denied'],
        ['b', 'denied'],
      ],
    );
    for (const issue of host.registrationIssues) assert.match(issue.message, /granted surfaces\.tool permission is missing/);
  });

  it('needs the external_write grant for an external_write tool', async (t) => {
    const writeTool = (id: string, requested: boolean) =>
      manifest(
        id,
        `  { kind = "surface", surface = "tool" },\n  { kind = "tool", name = "write_${id}" },\n${requested ? '  { kind = "external_write" },' : ''}`,
        `[[tools]]\nname = "write_${id}"\ndescription = "Writes somewhere."\ninput_schema = { type = "object" }\nexternal_write = true\n`,
      );
    const toolGrants = (id: string) => [{ kind: 'surface', surface: 'tool' } as const, { kind: 'tool', name: `write_${id}` } as const];
    const ws = pluginWorkspace(t, [
      { manifest: writeTool('granted', true), component: await assemble(TOOL_WATS.echo), grants: { permissions: [...toolGrants('granted'), { kind: 'external_write' }] } },
      { manifest: writeTool('ungranted', true), component: await assemble(TOOL_WATS.echo), grants: { permissions: toolGrants('ungranted') } },
      { manifest: writeTool('unrequested', false), component: await assemble(TOOL_WATS.echo), grants: { permissions: toolGrants('unrequested') } },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    const tools = host.listTools();
    assert.deepEqual(
      tools.map((tool) => [tool.name, tool.external_write]),
      [['write_granted', true]],
    );
    const issues = Object.fromEntries(host.registrationIssues.map((i) => [i.tool, i]));
    assert.equal(issues['write_ungranted']?.kind, 'denied');
    assert.match(issues['write_ungranted']?.message ?? '', /granted external_write permission is missing/);
    assert.equal(issues['write_unrequested']?.kind, 'denied');
    assert.match(issues['write_unrequested']?.message ?? '', /requested external_write permission is missing/);
    assert.equal((await host.callTool('write_granted', { summary: 'wrote' })).summary, 'wrote');
    await rejectsWithCode(pluginRuntimeOf(host, 'project:ungranted')!.callTool('write_ungranted', '{}'), 'TOOL_DENIED', /external_write/);
  });

  it('re-checks authority on every call, not only at registration', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('revoked'), component: await assemble(TOOL_WATS.echo) }]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.equal((await host.callTool('run', { summary: 'before' })).summary, 'before');
    // take the tool grant away from the live record (as a reloaded enablement would)
    const grants = host.runtimes.get('project:revoked')!.record.grants as unknown as { permissions: unknown[] };
    grants.permissions = grants.permissions.filter((p) => (p as { kind: string }).kind !== 'tool');
    await rejectsWithCode(host.callTool('run', { summary: 'after' }), 'TOOL_DENIED', /granted tool permission for `run` is missing/);
  });
});

describe('tool registry: invalid definitions', () => {
  it('reports an invalid tool name, an invalid schema and duplicate names, and registers the rest', async (t) => {
    const ws = pluginWorkspace(t, [
      {
        manifest: manifest(
          'defs',
          ['good', 'bad name', 'schema', 'twice'].map((n) => `  { kind = "tool", name = "${n}" },`).join('\n') + '\n  { kind = "surface", surface = "tool" },',
          [
            '[[tools]]\nname = "good"\ndescription = "ok"\ninput_schema = { type = "object" }\n',
            '[[tools]]\nname = "bad name"\ndescription = "space in name"\ninput_schema = { type = "object" }\n',
            '[[tools]]\nname = "schema"\ndescription = "format is not supported"\ninput_schema = { type = "object", properties = { x = { type = "string", format = "email" } } }\n',
            '[[tools]]\nname = "twice"\ndescription = "one"\ninput_schema = { type = "object" }\n',
            '[[tools]]\nname = "twice"\ndescription = "two"\ninput_schema = { type = "object" }\n',
          ].join('\n'),
        ),
        component: await assemble(TOOL_WATS.echo),
      },
      {
        manifest: manifest('rootschema', '  { kind = "surface", surface = "tool" },\n  { kind = "tool", name = "arr" },', '[[tools]]\nname = "arr"\ndescription = "root must be an object"\ninput_schema = { type = "array" }\n'),
        component: await assemble(TOOL_WATS.echo),
      },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.deepEqual(
      host.listTools().map((tool) => tool.name),
      ['good'],
    );
    const issues = host.registrationIssues;
    assert.ok(
      issues.every((i) => i.kind === 'invalid'),
      JSON.stringify(issues),
    );
    const byTool = (name: string) => issues.filter((i) => i.tool === name);
    assert.match(byTool('bad name')[0]?.message ?? '', /plugin project:defs tool registration rejected: tool `bad name` has invalid name: name contains whitespace or control characters/);
    assert.match(byTool('schema')[0]?.message ?? '', /tool `schema` has invalid input_schema: \$\.properties\.x: unsupported schema keyword/);
    assert.equal(byTool('twice').length, 2);
    for (const issue of byTool('twice')) assert.match(issue.message, /duplicate name within plugin manifest/);
    assert.match(byTool('arr')[0]?.message ?? '', /plugin project:rootschema tool registration rejected: .*root schema type must be `object`/);
    assert.equal(issues.length, 5);
    await rejectsWithCode(host.callTool('schema', {}), 'TOOL_NOT_FOUND');
  });
});

describe('tool registry: input validation', () => {
  it('rejects input that does not match input_schema before the guest runs', async (t) => {
    const ws = pluginWorkspace(t, [
      {
        // the guest traps: reaching it would be SANDBOX_TRAP, not TOOL_INPUT_INVALID
        manifest: manifest('strict', '  { kind = "surface", surface = "tool" },\n  { kind = "tool", name = "say" },', `[[tools]]\nname = "say"\ndescription = "strict"\n${TEXT_SCHEMA}\n`),
        component: await assemble(TOOL_WATS.trap),
      },
    ]);
    const host = await ws.open();
    t.after(() => host.close());
    const runtime = host.runtimes.get('project:strict')!;
    const cases: [unknown, RegExp][] = [
      [{ text: 5 }, /plugin tool `say` input does not match its input_schema at \$\.text: must be string/],
      [{}, /input_schema at \$: must have required property 'text'/],
      [{ text: 'ok', extra: true }, /at \$: must NOT have additional properties \(`extra`\)/],
      [{ text: 'ok', list: [1, 'two'] }, /at \$\.list\[1\]: must be integer/],
      [[1, 2], /at \$: must be object/],
      ['"a string"', /at \$: must be object/],
      [null, /at \$: must be object/],
    ];
    for (const [input, message] of cases) {
      await rejectsWithCode(host.callTool('say', input as never), 'TOOL_INPUT_INVALID', message);
    }
    // a JSON string input is parsed before validation
    await rejectsWithCode(host.callTool('say', '{"text": 1}'), 'TOOL_INPUT_INVALID', /\$\.text: must be string/);
    assert.equal(runtime.state, 'ready', 'no sandbox was started for rejected input');
    // valid input reaches the (trapping) guest
    await rejectsWithCode(host.callTool('say', { text: 'ok', list: [1, 2] }), 'SANDBOX_TRAP');
  });

  it('rejects a string input that is not JSON', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.trap) }]);
    const host = await ws.open();
    t.after(() => host.close());
    for (const input of ['', 'not json', '{"summary":', "{'a':1}", '{} trailing']) {
      await rejectsWithCode(host.callTool('run', input), 'TOOL_INPUT_INVALID', /plugin tool `run` input is not valid JSON/);
    }
    assert.equal(host.runtimes.get('project:echo')!.state, 'ready');
  });

  it('rejects input over 64 KiB', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.trap) }]);
    const host = await ws.open();
    t.after(() => host.close());
    await rejectsWithCode(host.callTool('run', { text: 'x'.repeat(64 * 1024) }), 'TOOL_INPUT_INVALID', /input exceeds 65536 bytes/);
  });

  it('passes the input to the guest and decodes its ToolOutput (string and parsed input alike)', async (t) => {
    const ws = pluginWorkspace(t, [{ manifest: watToolManifest('echo'), component: await assemble(TOOL_WATS.echo) }]);
    const host = await ws.open();
    t.after(() => host.close());
    assert.deepEqual(await host.callTool('run', '{"summary":"raw","content":"string input"}'), { summary: 'raw', content: 'string input' });
    assert.deepEqual(await host.callTool('run', { summary: 'parsed', content: null }), { summary: 'parsed', content: null });
    // the guest's output is decoded with Yoi's rules
    await rejectsWithCode(host.callTool('run', { summary: 'x', extra: 1 }), 'TOOL_OUTPUT_INVALID', /unsupported key `extra`/);
    await rejectsWithCode(host.callTool('run', { summary: '' }), 'TOOL_OUTPUT_INVALID', /summary must be a non-empty string/);
    await rejectsWithCode(host.callTool('run', { error: { code: 'not_found', message: 'no such thing' } }), 'TOOL_OUTPUT_INVALID', /^tool error: not_found: no such thing$/);
  });
});

describe('decodeToolOutput', () => {
  it('accepts summary with string, null or absent content', () => {
    assert.deepEqual(decodeToolOutput('{"summary":"s","content":"c"}'), { summary: 's', content: 'c' });
    assert.deepEqual(decodeToolOutput('{"summary":"s","content":null}'), { summary: 's', content: null });
    assert.deepEqual(decodeToolOutput('{"summary":"s"}'), { summary: 's', content: null });
    assert.deepEqual(decodeToolOutput('{"content":"","summary":"é"}'), { summary: 'é', content: '' });
  });

  it('accepts a summary of exactly 1024 bytes and content up to the 64 KiB output bound', () => {
    assert.equal(decodeToolOutput(JSON.stringify({ summary: 'x'.repeat(1024) })).summary.length, 1024);
    const content = 'c'.repeat(64 * 1024 - 40);
    assert.equal(decodeToolOutput(JSON.stringify({ summary: 's', content })).content, content);
  });

  it('rejects empty output and output that is not JSON', () => {
    decodeFails('', /guest returned no output/);
    decodeFails('not json', /guest output is not JSON/);
    decodeFails('{"summary":"s"', /guest output is not JSON/);
  });

  it('rejects JSON that is not an object', () => {
    decodeFails('[{"summary":"s"}]', /not a JSON object/);
    decodeFails('"summary"', /not a JSON object/);
    decodeFails('null', /not a JSON object/);
    decodeFails('42', /not a JSON object/);
  });

  it('rejects unknown keys, naming only safe ones', () => {
    decodeFails('{"summary":"s","attachments":[]}', /unsupported key `attachments`/);
    const weird = decodeToolOutputError('{"summary":"s","bad key\\u0000<script>":1}');
    assert.match(weird, /unsupported key \(name not shown\)/);
    assert.doesNotMatch(weird, /script/);
  });

  it('rejects a missing, empty or non-string summary', () => {
    decodeFails('{}', /summary must be a non-empty string/);
    decodeFails('{"content":"c"}', /summary must be a non-empty string/);
    decodeFails('{"summary":""}', /summary must be a non-empty string/);
    decodeFails('{"summary":1}', /summary must be a non-empty string/);
    decodeFails('{"summary":null}', /summary must be a non-empty string/);
  });

  it('rejects a summary over 1024 bytes (counted in UTF-8 bytes)', () => {
    decodeFails(JSON.stringify({ summary: 'x'.repeat(1025) }), /summary exceeds 1024 bytes/);
    // 513 two-byte characters: 513 UTF-16 units but 1026 bytes
    decodeFails(JSON.stringify({ summary: 'é'.repeat(513) }), /summary exceeds 1024 bytes/);
  });

  it('rejects content that is not a string or null', () => {
    for (const content of ['1', 'true', '{}', '["a"]']) decodeFails(`{"summary":"s","content":${content}}`, /content must be a string or null/);
  });

  it('rejects content and output over 64 KiB', () => {
    decodeFails(JSON.stringify({ summary: 's', content: 'c'.repeat(64 * 1024 + 1) }), /exceeds 65536 bytes/);
    decodeFails(JSON.stringify({ summary: 's', content: 'c'.repeat(64 * 1024) }), /exceeds 65536 bytes/);
  });

  it('turns an {"error":{…}} reply into a bounded, redacted tool error', () => {
    decodeFails('{"error":{"code":"invalid_input","message":"text is required"}}', /^tool error: invalid_input: text is required$/);
    decodeFails('{"error":{"code":"boom"}}', /^tool error: boom$/);
    decodeFails('{"error":{}}', /^tool error: error$/);
    decodeFails('{"error":null}', /^tool error: error$/);
    decodeFails('{"error":"flat"}', /^tool error: error$/);
    const secret = decodeToolOutputError('{"error":{"code":"auth","message":"rejected api_key=sk-live-123456 for user"}}');
    assert.doesNotMatch(secret, /sk-live-123456/);
    assert.match(secret, /^tool error: auth: rejected api_key=<redacted> for user$/);
    const long = decodeToolOutputError(JSON.stringify({ error: { code: 'c'.repeat(500), message: 'm'.repeat(5000) } }));
    assert.ok(long.length < 400, `message is ${long.length} characters`);
  });
});

function decodeToolOutputError(raw: string): string {
  try {
    decodeToolOutput(raw);
  } catch (error) {
    assert.ok(error instanceof PluginError);
    assert.equal(error.code, 'TOOL_OUTPUT_INVALID');
    return error.message;
  }
  assert.fail('expected TOOL_OUTPUT_INVALID');
}
