import { list as hostList, read as hostRead, write as hostWrite } from 'yoi:host/fs@1.0.0';
import { unwrapReply } from './host-error.js';

/** Files under a folder the operator granted; paths are relative to it. Throws HostApiError on refusal. */
export function readFile(path: string): { path: string; content: string; truncated: boolean } {
  return unwrapReply(hostRead(JSON.stringify({ path })));
}

export function listDir(path = '.'): { path: string; entries: { name: string; kind: 'dir' | 'file' | 'symlink' | 'other' }[]; truncated: boolean } {
  return unwrapReply(hostList(JSON.stringify({ path })));
}

export function writeFile(path: string, content: string): { path: string; bytes_written: number } {
  return unwrapReply(hostWrite(JSON.stringify({ path, content })));
}

export { HostApiError } from './host-error.js';
