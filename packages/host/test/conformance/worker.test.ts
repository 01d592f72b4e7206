import { WORKER_CASES } from './worker-cases.js';
import { conformanceSuite } from './table.js';

conformanceSuite("Yoi's worker tests (crates/worker/src/feature/plugin.rs, reference §9.2)", WORKER_CASES);
