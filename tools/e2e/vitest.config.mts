import { iicpProject } from '../../vitest.shared.mts';

export default iicpProject('e2e', { testTimeout: 60_000 });
