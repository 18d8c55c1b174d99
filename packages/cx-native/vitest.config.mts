import { iicpProject } from '../../vitest.shared.mts';

export default iicpProject('cx-native');
