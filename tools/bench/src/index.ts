// Benchmarks live here; each is run by an `npm run bench:*` script at the root.
export {};
