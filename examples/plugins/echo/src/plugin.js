// Example Echo: a tool-world plugin. The host validates the input against the tool's
// input_schema before this runs, so `text` is a string here.
export function call(toolName, inputJson) {
  const { text } = JSON.parse(inputJson);
  return JSON.stringify({ summary: `echo: ${text}`, content: text });
}
