// Example Weather: asks a weather API through the request host API. The host checks the
// target against the manifest and the grant, pins DNS and bounds the response.
import { request } from 'yoi:host/request@1.0.0';

function get(path) {
  return JSON.parse(request(JSON.stringify({ method: 'GET', url: `https://api.weather.example/v1/${path}` })));
}

export function call(toolName, inputJson) {
  const input = JSON.parse(inputJson);
  const reply = toolName === 'forecast' ? get(`forecast?city=${encodeURIComponent(input.city)}`) : get(`alerts?region=${encodeURIComponent(input.region ?? '')}`);
  if (reply.error) return JSON.stringify({ summary: `${toolName} unavailable: ${reply.error.code}`, content: reply.error.message });
  return JSON.stringify({ summary: `${toolName}: HTTP ${reply.status}`, content: reply.body });
}
