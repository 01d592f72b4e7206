import { INTEROP_CASES } from './interop-cases.js';
import { conformanceSuite } from './table.js';

conformanceSuite('Interoperability with Yoi: its archives, components from its WIT, issue J behaviours', INTEROP_CASES);
