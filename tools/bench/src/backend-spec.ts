/** What the scripted backend (backend-server.ts) answers, shared with the scenarios. */
export const STREAM_TOKENS = 8;
export const STREAM_GAP_MS = 2;
export const BACKEND_MODEL = 'bench-model';
/** The content of the buffered chat completion. */
export const BACKEND_REPLY = 'pong';
