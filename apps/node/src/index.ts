/** Default listening port of the provider node (DESIGN.md: node 9484; iicp-framing.md native port). */
export const DEFAULT_NODE_PORT = 9484;
