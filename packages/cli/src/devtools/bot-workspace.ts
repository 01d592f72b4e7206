import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPackageFile } from '@yoi-plugins/host/internal/package/archive-file.js';
import { loadPluginPackage } from '@yoi-plugins/host/internal/package/plugin-package.js';
import { renderEntry } from '@yoi-plugins/host/internal/store/enablement-edit.js';
import type { JsonValue } from '@yoi-plugins/host/internal/manifest/types.js';
import type { ConnectionPolicy } from '@yoi-plugins/host/internal/websocket/policy.js';
import type { DiscordEmulator } from './discord-emulator.js';

export const DISCORD_BOT_REF = 'builtin:example.discord-bot';

/**
 * Writes `<workspace>/.yoi/plugins.toml` enabling the builtin Discord bot against an emulator:
 * config with its URLs (and the emulator's identify window), grants bound to the built package, the bot token as a frame secret on
 * the Gateway connection and as the REST Authorization header. Returns the package digest.
 */
export async function writeBotWorkspace(
  workspace: string,
  builtinDir: string,
  emulator: DiscordEmulator,
  policy: Partial<ConnectionPolicy> = {},
  config: Record<string, JsonValue> = {},
): Promise<string> {
  const files = await readPackageFile(join(builtinDir, 'example.discord-bot.yoi-plugin'));
  const pkg = files.ok ? loadPluginPackage(files.value) : files;
  if (!pkg.ok) throw new Error(`the builtin bot is not available (run npm run build): ${pkg.diagnostic.message}`);
  const { manifest, digest } = pkg.value;
  mkdirSync(join(workspace, '.yoi'), { recursive: true });
  writeFileSync(
    join(workspace, '.yoi', 'plugins.toml'),
    renderEntry({
      id: DISCORD_BOT_REF,
      version: manifest.version,
      digest,
      surfaces: [],
      config: { gateway_url: emulator.url, rest_base: emulator.restBase, identify_interval_ms: emulator.identifyWindowMs, ...config },
      websocket: { ping_interval_ms: 1000, pong_timeout_ms: 1000, reconnect_base_ms: 100, reconnect_max_ms: 1000, send_limit: 100_000, ...policy },
      grants: {
        id: DISCORD_BOT_REF,
        version: manifest.version,
        digest,
        permissions: manifest.permissions,
        websocket: [{ scheme: 'ws', host: '127.0.0.1', path_prefixes: [], frame_secrets: ['discord_token'] }],
        request: [{ scheme: 'http', host: '127.0.0.1', methods: ['POST'], path_prefixes: ['/api/v10/channels/'], headers: [{ name: 'Authorization', secret: 'discord_token', prefix: 'Bot ' }] }],
        fs: [],
      },
    }),
  );
  return digest;
}
