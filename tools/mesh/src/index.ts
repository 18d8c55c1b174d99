// tools/mesh: the local mesh behind `npm start`. Private; never published.
export { formatLine, pipeLines, prefixFor, useColour } from './logs.ts';
export { bundledMcpServer, Mesh, MCP_TOOLS_CALL_INTENT, readyText, REPO_ROOT } from './mesh.ts';
export type { MeshInfo, MeshIo } from './mesh.ts';
export {
  DEFAULT_PORTS,
  LOG_LEVELS,
  MESH_HELP,
  MeshUsageError,
  parseMeshArgs,
  PLANES,
} from './options.ts';
export type { LogLevel, MeshOptions, Plane } from './options.ts';
