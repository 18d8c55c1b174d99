/** Default listening port of the directory (DESIGN.md: directory 8090). */
export const DEFAULT_DIRECTORY_PORT = 8090;
