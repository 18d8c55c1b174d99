// @iicp/http: see README.md. The public API is a curated list of named exports.
export {};
