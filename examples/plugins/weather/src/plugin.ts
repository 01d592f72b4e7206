import { defineTools, ToolError } from '@yoi-plugins/pdk';
import { HostApiError, request } from '@yoi-plugins/pdk/request';

// Asks a weather API through the request host API. The host checks the target against the
// manifest and the grant, pins DNS and bounds the response; failures come back as values.
function get(path: string): string {
  try {
    const response = request({ method: 'GET', url: `https://api.weather.example/v1/${path}` });
    return `HTTP ${response.status}: ${response.body}`;
  } catch (error) {
    if (error instanceof HostApiError) throw new ToolError(error.code, error.message);
    throw error;
  }
}

export const { call } = defineTools({
  forecast: (input: { city: string }) => ({ summary: `forecast for ${input.city}`, content: get(`forecast?city=${encodeURIComponent(input.city)}`) }),
  alerts: (input: { region?: string }) => ({ summary: 'weather alerts', content: get(`alerts?region=${encodeURIComponent(input.region ?? '')}`) }),
});
