// Repository checks (topology, generated registry freshness) are tests in test/.
export {};
