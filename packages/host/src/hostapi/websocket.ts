import type WebSocket from 'ws';
import { webSocketClass } from '../websocket/ws-module.js';
import type { AuthoritySubject } from '../authority/authorize.js';
import { authorizeHostApi, authorizeWebSocketTarget, safeUrlLabel } from '../authority/authorize.js';
import { parseTargetUrl } from '../authority/targets.js';
import { hostError, hostOk, parseDescriptor } from './reply.js';

/**
 * The pull WebSocket host API: bounded use inside one call only (every handle is closed when
 * the call ends). Long-lived connections belong to the host-owned driver, never to a guest
 * `recv` loop.
 */
export const WEBSOCKET_PULL_LIMITS = {
  descriptorBytes: 8 * 1024,
  openConnections: 4,
  openTimeoutMs: 5_000,
  sendBytes: 32 * 1024,
  receiveBytes: 64 * 1024,
  defaultRecvMs: 5_000,
  maxRecvMs: 30_000,
  queuedMessages: 64,
} as const;

interface Handle {
  readonly socket: WebSocket;
  readonly url: string;
  readonly inbox: { type: 'text'; text: string }[];
  waiter: (() => void) | null;
  closed: boolean;
  error: string | null;
}

export class WebSocketPullSession {
  readonly #subject: AuthoritySubject;
  readonly #handles = new Map<number, Handle>();
  #next = 0;
  #reserved = 0;

  constructor(subject: AuthoritySubject) {
    this.#subject = subject;
  }

  async call(fn: string, args: readonly (string | number)[]): Promise<string> {
    const denied = authorizeHostApi(this.#subject, 'websocket');
    if (denied) return hostError('denied', `plugin host API dispatch denied: ${denied}`);
    switch (fn) {
      case 'open':
        return this.#open(String(args[0] ?? ''));
      case 'send-text':
        return this.#send(Number(args[0]), String(args[1] ?? ''));
      case 'recv':
        return this.#recv(Number(args[0]), Number(args[1] ?? 0));
      case 'close':
        return this.#close(Number(args[0]));
      default:
        return hostError('unknown_function', 'unknown websocket host function');
    }
  }

  async #open(json: string): Promise<string> {
    const descriptor = parseDescriptor(json, WEBSOCKET_PULL_LIMITS.descriptorBytes, ['url', 'protocols', 'headers']);
    if (!descriptor.ok) return descriptor.reply;
    const { url, protocols = [], headers = [] } = descriptor.value as { url?: unknown; protocols?: unknown; headers?: unknown };
    if (!Array.isArray(protocols) || protocols.length > 0) return hostError('denied', 'WebSocket subprotocol negotiation is not supported by host_api.websocket v1');
    if (!Array.isArray(headers) || headers.length > 0) {
      return hostError('denied', 'WebSocket handshake headers from guest memory are not supported; credentials come from secret grants');
    }
    if (typeof url !== 'string') return hostError('invalid_request', 'WebSocket url must be a string');
    const target = parseTargetUrl(url);
    if (!('error' in target) && (target.scheme === 'http' || target.scheme === 'https')) return hostError('denied', 'HTTP URLs are not supported by host_api.websocket');
    const denied = authorizeWebSocketTarget(this.#subject, url);
    if (denied) return hostError('denied', `plugin host API dispatch denied: ${denied}`);
    if (this.#handles.size + this.#reserved >= WEBSOCKET_PULL_LIMITS.openConnections) {
      return hostError('limit', `host_api.websocket open connection limit (${WEBSOCKET_PULL_LIMITS.openConnections}) exceeded before dialing`);
    }
    const label = 'error' in target ? 'websocket' : safeUrlLabel(target);
    this.#reserved++;
    try {
      const socket = new (webSocketClass())(url, { handshakeTimeout: WEBSOCKET_PULL_LIMITS.openTimeoutMs, maxPayload: WEBSOCKET_PULL_LIMITS.receiveBytes, followRedirects: false });
      // Listen before the handshake completes: a frame can arrive with the 101 response.
      const handle: Handle = { socket, url: label, inbox: [], waiter: null, closed: false, error: null };
      socket.on('message', (data, isBinary) => {
        if (isBinary) handle.error = 'binary WebSocket frames are not supported by host_api.websocket';
        else if (handle.inbox.length < WEBSOCKET_PULL_LIMITS.queuedMessages) handle.inbox.push({ type: 'text', text: data.toString() });
        else handle.error = 'WebSocket receive queue is full';
        handle.waiter?.();
      });
      socket.on('close', () => {
        handle.closed = true;
        handle.waiter?.();
      });
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve());
        socket.once('error', (error) => reject(error));
      });
      socket.on('error', () => {
        handle.error ??= 'WebSocket connection failed';
        handle.waiter?.();
      });
      let id = this.#next;
      do id = (id % 0xffff_ffff) + 1;
      while (this.#handles.has(id));
      this.#next = id;
      this.#handles.set(id, handle);
      return hostOk({ handle: id, url: label });
    } catch {
      return hostError('failed', `WebSocket connection failed for ${label}`);
    } finally {
      this.#reserved--;
    }
  }

  async #send(id: number, text: string): Promise<string> {
    const handle = this.#handles.get(id);
    if (!handle) return hostError('invalid_request', `unknown WebSocket handle ${id}`);
    const bytes = Buffer.byteLength(text);
    if (bytes > WEBSOCKET_PULL_LIMITS.sendBytes) return hostError('too_large', `WebSocket text frame exceeds ${WEBSOCKET_PULL_LIMITS.sendBytes} bytes`);
    if (handle.closed) return hostError('closed', 'WebSocket is closed');
    return new Promise((resolve) => {
      handle.socket.send(text, (error) => resolve(error ? hostError('failed', 'WebSocket send failed') : hostOk({ sent: true, bytes })));
    });
  }

  async #recv(id: number, timeoutMs: number): Promise<string> {
    const handle = this.#handles.get(id);
    if (!handle) return hostError('invalid_request', `unknown WebSocket handle ${id}`);
    const wait = timeoutMs <= 0 ? WEBSOCKET_PULL_LIMITS.defaultRecvMs : Math.min(timeoutMs, WEBSOCKET_PULL_LIMITS.maxRecvMs);
    if (handle.inbox.length === 0 && !handle.closed && handle.error === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, wait);
        handle.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      handle.waiter = null;
    }
    const message = handle.inbox.shift();
    if (message) return hostOk(message);
    if (handle.error) return hostError('failed', handle.error);
    if (handle.closed) return hostOk({ type: 'closed' });
    return hostError('timeout', 'WebSocket receive timed out');
  }

  async #close(id: number): Promise<string> {
    const handle = this.#handles.get(id);
    if (!handle) return hostOk({ closed: false });
    this.#handles.delete(id);
    handle.socket.close(1000);
    setTimeout(() => handle.socket.terminate(), WEBSOCKET_PULL_LIMITS.openTimeoutMs).unref();
    return hostOk({ closed: true });
  }

  /** Closes every handle (end of a call, or the instance stopping). */
  closeAll(): void {
    for (const handle of this.#handles.values()) handle.socket.terminate();
    this.#handles.clear();
  }
}
