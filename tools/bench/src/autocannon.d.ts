// autocannon 8 ships no types; the subset the scenarios use.
declare module 'autocannon' {
  interface Result {
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
  }
  interface Instance {
    on(
      event: 'response',
      fn: (client: unknown, statusCode: number, bytes: number, responseTime: number) => void,
    ): void;
    stop(): void;
  }
  function autocannon(
    opts: Record<string, unknown>,
    cb: (err: Error | null, result: Result) => void,
  ): Instance;
  export default autocannon;
}
