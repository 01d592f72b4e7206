/**
 * Normalises a package-relative path the way Yoi does (1.2): rejects empty paths, NUL,
 * backslashes, absolute and home-relative paths, Windows drives and any empty, `.` or `..`
 * segment. Returns the normalised path (identical to a valid input) or `null`.
 */
export function normalizePackagePath(raw: string): string | null {
  if (raw.length === 0) return null;
  if (raw.includes('\0') || raw.includes('\\')) return null;
  if (raw.startsWith('/') || raw.startsWith('~')) return null;
  if (/^[A-Za-z]:/.test(raw)) return null;
  const segments = raw.split('/');
  for (const segment of segments) {
    if (segment === '' || segment === '.' || segment === '..') return null;
  }
  return segments.join('/');
}
