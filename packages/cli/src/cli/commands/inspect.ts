import { inventoryWorkspace, selectItem } from '@yoi-plugins/host/internal/inventory/snapshot.js';
import { CommandFailure, printJson, type CliIo } from '../io.js';
import { storeOptions, type CommonOptions } from '../options.js';
import { renderList, renderShow } from '../render.js';

export async function runList(io: CliIo, options: CommonOptions): Promise<void> {
  const snapshot = await inventoryWorkspace(storeOptions(io, options));
  if (options.json) printJson(io, snapshot);
  else io.stdout(renderList(snapshot));
}

export async function runShow(io: CliIo, ref: string, options: CommonOptions): Promise<void> {
  const snapshot = await inventoryWorkspace(storeOptions(io, options));
  const selected = selectItem(snapshot, ref);
  if ('error' in selected) throw new CommandFailure(selected.error, 'not_found');
  if (options.json) printJson(io, selected.item);
  else io.stdout(renderShow(selected.item));
}
