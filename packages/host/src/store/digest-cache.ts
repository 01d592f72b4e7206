import { join } from 'node:path';
import { IdentityCache } from '../package/file-identity.js';
import { defaultCacheDir } from '../sandbox/transpile-cache.js';

/** File name of the package-digest cache inside a transpile cache directory. */
const PACKAGE_DIGESTS_FILE = '.package-digests.json';

/**
 * The digests of store packages by file identity, so that a start does not re-hash every
 * package of every store. Kept in the transpile cache directory: a host control location no
 * fs grant can reach, and already trusted (the host runs the JavaScript in it).
 */
export function packageDigestCache(env: NodeJS.ProcessEnv, cacheDir: string = defaultCacheDir(env)): Promise<IdentityCache> {
  return IdentityCache.shared(join(cacheDir, PACKAGE_DIGESTS_FILE));
}
