/**
 * B3: secret recovery through the request host API. A loopback server reflects the
 * `authorization` header the host attached from a secret grant, after padding the guest chose.
 * At b5fd74d the host cut the body at 64 KiB (and header values at 1,024 characters) before
 * redacting, so padding moved the secret across the cut and the reply showed all but its last
 * character; a URL containing the secret's value was refused with a distinct error, which
 * confirmed the last one. The attacker below is that plugin, run against the real host call.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import type { AuthoritySubject } from '../../src/authority/authorize.js';
import { REQUEST_LIMITS, requestHostCall } from '../../src/hostapi/request.js';
import { Secrets } from '../../src/secrets/secrets.js';
import { hostApiManifest, subjectOf } from '../hostapi/support.js';

/** 28 characters, none of which occurs anywhere else in a reply (padding, prefix, marker, JSON, headers). */
const SECRET = 'QZKXVYHLPCQZKUVHYLPCZKQXUHVL';
const PREFIX = 'Bearer ';
const MARKER = '<secret:api_token>';
const ALPHABET = new Set(SECRET);

interface Reply {
  readonly status?: number;
  readonly headers?: { name: string; value: string }[];
  readonly body?: string;
  readonly truncated?: boolean;
  readonly error?: { code: string; message: string };
}

/**
 * Reflects the attached authorization header after padding the guest asks for: `?pad=N` bytes
 * in the body, the `x-pad` request header in the `x-echo` response header.
 */
async function reflectingServer(t: TestContext): Promise<number> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const auth = String(req.headers.authorization ?? '');
      if ((req.url ?? '').startsWith('/api/fixed')) {
        res.setHeader('date', 'Thu, 01 Jan 1970 00:00:00 GMT');
        res.end('{"ok":true}');
        return;
      }
      const pad = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('pad') ?? 0);
      res.setHeader('date', 'Thu, 01 Jan 1970 00:00:00 GMT');
      res.setHeader('x-echo', `${String(req.headers['x-pad'] ?? '')}${auth}`);
      res.end(`${'x'.repeat(pad)}${Buffer.concat(chunks).toString('utf8')}${auth}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

function grantedSubject(port: number): AuthoritySubject {
  const manifest = hostApiManifest(['request'], `\n[[request]]\nscheme = "http"\nhost = "127.0.0.1"\nport = ${port}\nmethods = ["GET", "POST"]\npath_prefixes = ["/api"]\n`);
  const [target] = manifest.request;
  return subjectOf(manifest, {
    permissions: manifest.permissions,
    request: [{ ...target!, headers: [{ name: 'authorization', secret: 'api_token', prefix: PREFIX }] }],
  });
}

const secrets = new Secrets(new Map([['api_token', SECRET]]));

/** Everything secret-alphabet characters in `text` reveal: the longest run of them. */
function longestSecretRun(text: string): string {
  let best = '';
  let run = '';
  for (const char of text.replaceAll(MARKER, '')) {
    run = ALPHABET.has(char) ? run + char : '';
    if (run.length > best.length) best = run;
  }
  return best;
}

/**
 * The attacking plugin: for k = 1, 2, …, pads so that only the first k characters of the
 * reflected secret fall before the cut, and reads them off the end of the reply (body, then the
 * header variant); the last character is found by asking which guess the host refuses in a URL.
 */
async function attack(port: number, subject: AuthoritySubject): Promise<{ recovered: string; replies: string[]; calls: number }> {
  const replies: string[] = [];
  const call = async (descriptor: object): Promise<Reply> => {
    const raw = await requestHostCall(subject, JSON.stringify(descriptor), { timeoutMs: 5_000, secrets });
    replies.push(raw);
    return JSON.parse(raw) as Reply;
  };
  let known = '';
  for (let k = 1; k < SECRET.length; k++) {
    const pad = REQUEST_LIMITS.responseBodyBytes - PREFIX.length - k;
    const reply = await call({ method: 'GET', url: `http://127.0.0.1:${port}/api/reflect?pad=${pad}` });
    const seen = (reply.body ?? '').slice(pad + PREFIX.length);
    if (seen.length !== k || [...seen].some((c) => !ALPHABET.has(c))) break;
    known = seen;
  }
  if (known.length === 0) {
    // The header variant: pad a request header so the reflected value crosses the 1,024 cut.
    for (let k = 1; k < SECRET.length; k++) {
      const pad = 'x'.repeat(REQUEST_LIMITS.headerValueBytes - PREFIX.length - k);
      const reply = await call({ method: 'GET', url: `http://127.0.0.1:${port}/api/reflect`, headers: [{ name: 'x-pad', value: pad }] });
      const echo = reply.headers?.find((h) => h.name === 'x-echo')?.value ?? '';
      const seen = echo.slice(pad.length + PREFIX.length);
      if (seen.length !== k || [...seen].some((c) => !ALPHABET.has(c))) break;
      known = seen;
    }
  }
  if (known.length === SECRET.length - 1) {
    for (const c of ALPHABET) {
      const reply = await call({ method: 'GET', url: `http://127.0.0.1:${port}/api/fixed?q=${known}${c}` });
      if (reply.error?.code === 'denied') {
        known += c;
        break;
      }
    }
  }
  return { recovered: known, replies, calls: replies.length };
}

describe('secrets cannot be recovered through the request host API (B3)', () => {
  it('the padding attack recovers nothing: no reply holds any character of the secret', async (t) => {
    const port = await reflectingServer(t);
    const { recovered, replies, calls } = await attack(port, grantedSubject(port));
    t.diagnostic(`attack: ${calls} calls, ${recovered.length} of ${SECRET.length} characters recovered`);
    assert.equal(recovered, '');
    for (const raw of replies) assert.equal(longestSecretRun(raw), '', raw.slice(-200));
  });

  it('every cut position of the reflected body and header shows a prefix of "Bearer <marker>", never a piece of the secret', async (t) => {
    const port = await reflectingServer(t);
    const subject = grantedSubject(port);
    // What may follow the padding: part of "Bearer ", or "Bearer " and the whole marker.
    const allowed = new Set([...Array.from({ length: PREFIX.length + 1 }, (_, i) => PREFIX.slice(0, i)), PREFIX + MARKER]);
    for (let k = -2; k <= SECRET.length + 2; k++) {
      const padding = REQUEST_LIMITS.responseBodyBytes - PREFIX.length - k;
      const reply = JSON.parse(await requestHostCall(subject, JSON.stringify({ method: 'GET', url: `http://127.0.0.1:${port}/api/reflect?pad=${padding}` }), { secrets })) as Reply;
      const tail = reply.body!.slice(padding);
      assert.ok(allowed.has(tail), `k=${k}: ${tail}`);
      assert.ok(Buffer.byteLength(reply.body!) <= REQUEST_LIMITS.responseBodyBytes);
      assert.equal(longestSecretRun(reply.body!), '');

      const pad = 'x'.repeat(Math.max(0, REQUEST_LIMITS.headerValueBytes - PREFIX.length - k));
      const headerReply = JSON.parse(
        await requestHostCall(subject, JSON.stringify({ method: 'GET', url: `http://127.0.0.1:${port}/api/reflect`, headers: [{ name: 'x-pad', value: pad }] }), { secrets }),
      ) as Reply;
      const echo = headerReply.headers!.find((h) => h.name === 'x-echo')!.value;
      assert.ok(Buffer.byteLength(echo) <= REQUEST_LIMITS.headerValueBytes);
      assert.ok(allowed.has(echo.slice(pad.length)), `k=${k}: ${echo.slice(pad.length)}`);
    }
  });

  it('a right and a wrong guess of the secret in a URL get identical replies', async (t) => {
    const port = await reflectingServer(t);
    const subject = grantedSubject(port);
    const wrong = `${SECRET.slice(0, -1)}${SECRET.endsWith('Q') ? 'Z' : 'Q'}`;
    const ask = (guess: string) => requestHostCall(subject, JSON.stringify({ method: 'GET', url: `http://127.0.0.1:${port}/api/fixed?q=${guess}` }), { secrets });
    const right = await ask(SECRET);
    assert.equal(right, await ask(wrong));
    assert.equal((JSON.parse(right) as Reply).status, 200);
    // Guessed values in headers and bodies are just values too.
    const withHeader = (guess: string) =>
      requestHostCall(subject, JSON.stringify({ method: 'POST', url: `http://127.0.0.1:${port}/api/fixed`, headers: [{ name: 'x-guess', value: guess }], body: guess }), { secrets });
    assert.equal(await withHeader(SECRET), await withHeader(wrong));
  });
});
