/** Default listening port of the consumer proxy (DESIGN.md: proxy 9483). */
export const DEFAULT_PROXY_PORT = 9483;
