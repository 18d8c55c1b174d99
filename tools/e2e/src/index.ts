// Shared helpers of the end-to-end tests (starting app processes, waiting for readiness).
export {};
