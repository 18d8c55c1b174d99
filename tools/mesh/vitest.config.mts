import { iicpProject } from '../../vitest.shared.mts';

export default iicpProject('mesh', { testTimeout: 120_000 });
