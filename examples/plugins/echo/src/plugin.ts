import { defineTools } from '@yoi-plugins/pdk';

// The host has validated the input against the tool's input_schema before this runs.
export const { call } = defineTools({
  echo: (input: { text: string }) => ({ summary: `echo: ${input.text}`, content: input.text }),
});
