// The host interfaces as the component sees them (see packages/host/wit). A plugin can only
// import the ones its manifest requests; the build refuses the rest.
declare module 'yoi:host/request@1.0.0' {
  export function request(requestJson: string): string;
}
declare module 'yoi:host/fs@1.0.0' {
  export function read(requestJson: string): string;
  export function list(requestJson: string): string;
  export function write(requestJson: string): string;
}
