import { requestTargetLabel, websocketTargetLabel } from '@yoi-plugins/host/internal/authority/targets.js';
import type { RequestTarget, WebSocketTarget } from '@yoi-plugins/host/internal/manifest/types.js';
import { escapeTerminal } from './terminal.js';

/**
 * The canonical form in which the CLI shows a target to a person (consent prompts, `check`,
 * `show`): its label (scheme and host normalised as matching sees them, methods upper-cased,
 * any part that could pass for more of the line quoted), with every character outside
 * printable ASCII escaped. A real target is ASCII (URLs reach matching percent- and
 * punycode-encoded), so a look-alike letter is shown for what it is. Nothing is cut: an
 * operator grants what they see.
 */
export function displayTargetLabel(label: string): string {
  return escapeTerminal(label, { asciiOnly: true, limit: Infinity });
}

export function displayRequestTarget(target: RequestTarget): string {
  return displayTargetLabel(requestTargetLabel(target));
}

export function displayWebSocketTarget(target: WebSocketTarget): string {
  return displayTargetLabel(websocketTargetLabel(target));
}
