import { defineTools, ToolError } from '@yoi-plugins/pdk';

// The host has already validated the input against the tool's input_schema.
export const { call } = defineTools({
  greet: (input: { name: string }) => {
    const name = input.name.trim();
    if (name.length === 0) throw new ToolError('invalid_input', 'name must not be blank');
    return { summary: `Hello, ${name}!`, content: `Greeted ${name} at ${new Date().toISOString()}.` };
  },
});
