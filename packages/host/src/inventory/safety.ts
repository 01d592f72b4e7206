/** What every inspection/authoring command guarantees; printed in JSON so tooling can rely on it. */
export const INSPECTION_SAFETY = {
  no_network: true,
  no_plugin_execution: true,
  no_enablement_config_mutation: true,
  no_secrets_generated: true,
} as const;
