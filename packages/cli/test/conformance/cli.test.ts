import { CLI_CASES } from './cli-cases.js';
import { conformanceSuite } from '@yoi-plugins/host/test/conformance/table.js';

conformanceSuite("Yoi's CLI tests (crates/yoi/src/plugin_cli.rs, reference §9.3)", CLI_CASES);
