import { MANIFEST_CASES } from './manifest-cases.js';
import { conformanceSuite } from './table.js';

conformanceSuite("Yoi's manifest tests (crates/manifest, reference §9.1)", MANIFEST_CASES);
