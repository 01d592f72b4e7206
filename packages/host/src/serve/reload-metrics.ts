import { Counter, Gauge, type Registry } from 'prom-client';
import type { ReloadStatus } from './reload.js';

/** `yoi_reload_*`: passes, plugin outcomes by action, refused passes, plugins whose change failed. */
export function registerReloadMetrics(registry: Registry, status: () => ReloadStatus): void {
  new Gauge({
    name: 'yoi_reload_generation',
    help: 'Hot-reload passes completed since serve started.',
    registers: [registry],
    collect() {
      this.set(status().generation);
    },
  });
  new Counter({
    name: 'yoi_reload_plugin_outcomes_total',
    help: 'Plugin changes a hot reload applied or failed (a failed change keeps the running version).',
    labelNames: ['action', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [action, counts] of Object.entries(status().outcomes_total)) {
        this.inc({ action, outcome: 'applied' }, counts.applied);
        this.inc({ action, outcome: 'failed' }, counts.failed);
      }
    },
  });
  new Counter({
    name: 'yoi_reload_refused_total',
    help: 'Reload passes that changed nothing because the enablement file could not be used.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(status().refused_total);
    },
  });
  new Gauge({
    name: 'yoi_reload_failing_plugins',
    help: 'Plugins whose last change failed to apply (each runs its previous version, or nothing).',
    registers: [registry],
    collect() {
      this.set(status().failing.length);
    },
  });
}
