/**
 * The MCP tool-risk taxonomy, version 1 (spec/mcp-tool-risk-taxonomy.json of the IICP
 * spec): the data as published (classes, keywords, policy requirements, sandbox
 * profiles), kept here so the runtime does not read the spec tree.
 */
export const TOOL_RISK_TAXONOMY = {
  version: 1,
  default_class: 'benign_read',
  dangerous_classes: [
    'shell_exec',
    'data_read',
    'file_read',
    'file_write',
    'network_fetch',
    'browser_control',
    'credential_access',
    'system_control',
    'physical_world',
    'regulated_decision',
  ],
  risk_keywords: {
    shell_exec: ['bash', 'shell', 'exec', 'run_command', 'command', 'eval', 'python_exec'],
    data_read: [
      'read_document',
      'query_database',
      'list_resource',
      'dataset_read',
      'record_lookup',
    ],
    file_read: ['read_file', 'list_dir', 'cat', 'open_file', 'file_read', 'list_files'],
    file_write: [
      'write_file',
      'delete_file',
      'remove_file',
      'edit_file',
      'save_file',
      'mkdir',
      'rmdir',
    ],
    network_fetch: ['fetch', 'crawl', 'http', 'web_request', 'search_web', 'url'],
    browser_control: ['browser', 'computer_use', 'click', 'type', 'screenshot', 'navigate'],
    credential_access: ['secret', 'credential', 'token', 'ssh_key', 'wallet', 'password'],
    system_control: [
      'systemctl',
      'launchctl',
      'service_restart',
      'install_package',
      'firewall',
      'reboot',
      'shutdown',
    ],
    physical_world: [
      'robot',
      'drone',
      'actuator',
      'iot_control',
      'medical_device',
      'industrial_control',
    ],
    regulated_decision: [
      'credit_score',
      'hire',
      'employment',
      'benefit_eligibility',
      'diagnose',
      'triage_patient',
    ],
  } as Record<string, readonly string[]>,
  dangerous_policy_requirements: [
    'explicit_operator_opt_in',
    'authz_policy',
    'sandbox_profile',
    'redacted_audit',
  ],
  safe_sandbox_profiles: ['1', 'true', 'strict', 'container', 'sandbox'],
} as const;

/**
 * Project class for tools whose names look benign but whose MCP annotations declare
 * side effects (`readOnlyHint:false`, `destructiveHint:true`, `openWorldHint:true`).
 * Annotations are untrusted (iicp-mcp-binding.md §7), so they may only raise the risk,
 * never lower it.
 */
export const ANNOTATED_SIDE_EFFECTS_CLASS = 'annotated_side_effects';

export interface ToolAnnotationsLike {
  readOnlyHint?: boolean;
  destructiveHint?: boolean;
  openWorldHint?: boolean;
}

/** `getEnv`, `get-env`, `Get Env` → `get_env`: the form the keywords are written in. */
export function normalizeToolName(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_');
}

/**
 * Risk class of a tool by name: the first class one of whose keywords occurs in the
 * normalised name. Substring matching errs on the side of caution (`catalog` reads as
 * `cat`); the operator can opt a misclassified tool in by name.
 */
export function classifyTool(name: string, annotations?: ToolAnnotationsLike): string {
  const n = normalizeToolName(name);
  for (const [cls, words] of Object.entries(TOOL_RISK_TAXONOMY.risk_keywords)) {
    if (words.some((w) => n.includes(w))) return cls;
  }
  if (
    annotations &&
    (annotations.readOnlyHint === false ||
      annotations.destructiveHint === true ||
      annotations.openWorldHint === true)
  ) {
    return ANNOTATED_SIDE_EFFECTS_CLASS;
  }
  return TOOL_RISK_TAXONOMY.default_class;
}

export function isDangerousClass(cls: string): boolean {
  return (
    cls === ANNOTATED_SIDE_EFFECTS_CLASS ||
    (TOOL_RISK_TAXONOMY.dangerous_classes as readonly string[]).includes(cls)
  );
}

export function isSafeSandboxProfile(profile: string | undefined): boolean {
  return (
    profile !== undefined &&
    (TOOL_RISK_TAXONOMY.safe_sandbox_profiles as readonly string[]).includes(profile.toLowerCase())
  );
}
