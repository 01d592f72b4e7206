import type { AuthoritySubject } from '../authority/authorize.js';
import { fsHostCall } from './fs.js';
import { hostError } from './reply.js';
import { requestHostCall } from './request.js';
import { WebSocketPullSession } from './websocket.js';
import { NO_SECRETS, type Secrets } from '../secrets/secrets.js';

/**
 * Routes a guest's host call to the API it names. Every call re-checks authority inside the
 * API (grants can only shrink between registration and call, never grow).
 */
export class HostApiDispatcher {
  readonly #subject: AuthoritySubject;
  readonly #websocket: WebSocketPullSession;
  readonly #secrets: Secrets;

  constructor(subject: AuthoritySubject, secrets: Secrets = NO_SECRETS) {
    this.#subject = subject;
    this.#secrets = secrets;
    this.#websocket = new WebSocketPullSession(subject);
  }

  dispatch = async (iface: string, fn: string, args: readonly (string | number)[]): Promise<string> => {
    switch (iface) {
      case 'yoi:host/request':
        return fn === 'request' ? requestHostCall(this.#subject, String(args[0] ?? ''), { secrets: this.#secrets }) : hostError('unknown_function', 'unknown request host function');
      case 'yoi:host/fs':
        return fsHostCall(this.#subject, fn, String(args[0] ?? ''));
      case 'yoi:host/websocket':
        return this.#websocket.call(fn, args);
      default:
        return hostError('denied', 'unknown host interface');
    }
  };

  /** Ends a call: pull WebSocket handles never outlive it. */
  endCall(): void {
    this.#websocket.closeAll();
  }
}
