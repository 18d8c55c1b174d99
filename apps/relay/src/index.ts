/** Default listening port of the relay (DESIGN.md: relay 9485). */
export const DEFAULT_RELAY_PORT = 9485;
