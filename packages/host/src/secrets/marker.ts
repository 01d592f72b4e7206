/** The text that replaces a secret value: `<secret:NAME>` (names are safe ids). */
export function secretMarker(name: string): string {
  return `<secret:${name}>`;
}

/** Matches a marker `secretMarker` produces (or text that looks like one). */
export const SECRET_MARKER_PATTERN = /<secret:[A-Za-z0-9_.-]{1,128}>/g;
